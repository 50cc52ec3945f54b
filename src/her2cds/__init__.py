"""her2cds: clinical decision support for HER2 testing and HER2-targeted therapy across solid tumors.

Public API::

    import her2cds
    result = her2cds.assess({"tumor": {"oncotree_code": "STAD"}, "specimens": [...]})
    result.her2.status

Decision support for qualified professionals; not a substitute for clinical judgement.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from her2cds._version import __version__

if TYPE_CHECKING:
    from her2cds.model.assessment import Assessment
    from her2cds.model.case import Case

__all__ = ["Assessment", "Case", "__version__", "assess"]


def assess(case: dict[str, Any] | Case) -> Assessment:
    """Assess one case with the packaged knowledge base.

    Raises :class:`her2cds.errors.InvalidInputError` naming the field and value when the case is invalid.
    """
    from her2cds.engine import default_engine

    return default_engine().assess(case)


def __getattr__(name: str) -> Any:  # lazy re-exports: importing her2cds stays cheap
    if name == "Assessment":
        from her2cds.model.assessment import Assessment

        return Assessment
    if name == "Case":
        from her2cds.model.case import Case

        return Case
    raise AttributeError(f"module 'her2cds' has no attribute {name!r}")
