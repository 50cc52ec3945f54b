"""Closed vocabularies shared by input and output."""

from __future__ import annotations

from enum import StrEnum


class Setting(StrEnum):
    EARLY = "early"
    LOCALLY_ADVANCED = "locally_advanced"
    METASTATIC = "metastatic"


class Procedure(StrEnum):
    BIOPSY = "biopsy"
    RESECTION = "resection"
    CYTOLOGY = "cytology"
    PLASMA = "plasma"


class Site(StrEnum):
    PRIMARY = "primary"
    METASTASIS = "metastasis"


class IhcScore(StrEnum):
    ZERO = "0"
    ONE = "1+"
    TWO = "2+"
    THREE = "3+"

    @property
    def rank(self) -> int:
        return _IHC_RANK[self]


_IHC_RANK = {IhcScore.ZERO: 0, IhcScore.ONE: 1, IhcScore.TWO: 2, IhcScore.THREE: 3}


class Probe(StrEnum):
    DUAL = "dual"
    SINGLE = "single"


class CopyNumberCall(StrEnum):
    AMPLIFICATION = "amplification"
    GAIN = "gain"
    NEUTRAL = "neutral"
    LOSS = "loss"


class RasStatus(StrEnum):
    WILD_TYPE = "wild_type"
    MUTANT = "mutant"


class ReceptorStatus(StrEnum):
    POSITIVE = "positive"
    NEGATIVE = "negative"


class Status(StrEnum):
    """HER2 status of a test, a specimen or the patient."""

    POSITIVE = "positive"
    NEGATIVE = "negative"
    EQUIVOCAL = "equivocal"
    INDETERMINATE = "indeterminate"


class Category(StrEnum):
    """HER2 expression category (breast; used by therapy labels)."""

    POSITIVE = "HER2-positive"
    LOW = "HER2-low"
    ULTRALOW = "HER2-ultralow"
    NULL = "HER2-null"


class Amplification(StrEnum):
    """ERBB2 copy-number finding of an NGS assay."""

    AMPLIFIED = "amplified"
    NOT_AMPLIFIED = "not_amplified"
    GAIN = "gain"
    UNKNOWN = "unknown"
    NOT_INFORMATIVE = "not_informative"


class RegimenSetting(StrEnum):
    """The setting a prior regimen was given in."""

    NEOADJUVANT = "neoadjuvant"
    ADJUVANT = "adjuvant"
    METASTATIC = "metastatic"
    LOCALLY_ADVANCED = "locally_advanced"
    MAINTENANCE = "maintenance"


class BestResponse(StrEnum):
    """Best overall response to a regimen (RECIST categories)."""

    COMPLETE = "complete_response"
    PARTIAL = "partial_response"
    STABLE = "stable_disease"
    PROGRESSIVE = "progressive_disease"
    NOT_EVALUABLE = "not_evaluable"


class StoppedFor(StrEnum):
    """Why a regimen was stopped."""

    TOXICITY = "toxicity"
    COMPLETION = "completion"
    PROGRESSION = "progression"


class PathologicResponse(StrEnum):
    """Pathologic response at surgery after neoadjuvant therapy."""

    PCR = "pcr"
    RESIDUAL_INVASIVE = "residual_invasive"
