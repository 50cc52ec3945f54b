"""Typed input (case) and output (assessment) models."""

from her2cds.model.assessment import Assessment
from her2cds.model.case import Case

__all__ = ["Assessment", "Case"]
