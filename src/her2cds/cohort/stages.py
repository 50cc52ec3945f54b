"""The two stages of the per-case engine as cohort mode keys them (docs/decisions.md D12.4).

The specimen stage (:meth:`her2cds.engine.Engine.specimen_stage`: each specimen's finding, the patient's HER2
summary, flags and recommendations so far) reads the tumor only through whether its family has guideline-specific
criteria and its default scoring system (:meth:`her2cds.engine.Engine.specimen_tumor_key`, D12.9), and the patient
through nothing else. So it is evaluated once per distinct *specimen key* (that, an explicit scoring system and
the specimen columns' decision-key values), and its outcome is reduced to a *signature*: everything of it that
the patient stage and the slim answer can read, without the recorded numbers themselves (those decided the
outcome; the patient stage reads the outcome). The whole engine then runs once per distinct *patient key*
(the patient's and the specimen's categorical values and the signature), where the tumor code counts only
through its *decision class* (:meth:`her2cds.engine.Engine.tumor_classes`, D12.7; it also fixes the family):
each row's own code is put back in the answer's ``tumor`` column, the one slim column that names it.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from typing import Any

from pydantic import BaseModel, ValidationError

from her2cds.cohort.cases import Row
from her2cds.cohort.columns import BY_NAME, CASE_COLUMNS
from her2cds.engine import THERAPY_ONLY_FIELDS, Engine, SpecimenStage
from her2cds.model.case import Case

SYSTEM = "__system"  # key column: what the specimen stage reads of the tumor (null: no HER2 family)
SIGNATURE = "__signature"  # key column: the specimen stage's signature id
UNREAD = "__read."  # patient-key columns: a therapy-only column, null where the tumor's decisions cannot read it
TUMOR_CLASS = "__tumor_class"  # patient-key column: the tumor code's decision class (Engine.tumor_classes)

# what the specimen stage reads of the patient: the tumor code (through its family) and an explicit scoring system
_STAGE_ONE_PATIENT = ("oncotree_code", "scoring_system")
_PATIENT_ONLY = tuple(c.name for c in CASE_COLUMNS if not c.specimen and c.name not in _STAGE_ONE_PATIENT)

# recorded values the results echo (they decided the outcome, which the signature keeps)
_RESULT_ECHO: Mapping[str, Any] = {
    "id": True, "collected_on": True, "basis": True,
    "ish": {"ratio", "her2_per_cell", "her2_per_cell_derived"}, "ngs": {"copy_number", "tumor_fraction"},
}


def system_of_codes(engine: Engine) -> dict[str, str]:
    """OncoTree code -> what the specimen stage reads of it (:meth:`her2cds.engine.Engine.specimen_tumor_key`)
    for every code with a HER2 family (the others: none)."""
    out: dict[str, str] = {}
    for code in engine.kb.tumor_types:
        key = engine.specimen_tumor_key(code)
        if key is not None:
            out[code] = key
    return out


def therapy_only_columns(engine: Engine) -> dict[str, dict[str, bool]]:
    """Canonical column -> (tumor code -> whether a decision on a case of that tumor can read the column), for the
    columns of the case fields only therapy criteria read (:data:`her2cds.engine.THERAPY_ONLY_FIELDS`)."""
    out: dict[str, dict[str, bool]] = {}
    for col in CASE_COLUMNS:
        field = ".".join(col.path)
        if not col.specimen and field in THERAPY_ONLY_FIELDS:
            out[col.name] = {code: field in engine.therapy_fields_read(code) for code in engine.kb.tumor_types}
    return out


def accepted_values(column: str, values: Iterable[Any]) -> list[Any]:
    """Those of ``values`` the input model accepts for ``column`` (a field of a patient-level sub-model whose
    fields are all optional: validated alone, as the model itself reads it)."""
    path = BY_NAME[column].path
    model: Any = Case
    for part in path[:-1]:
        model = next(a for a in (model.model_fields[part].annotation, *getattr(
            model.model_fields[part].annotation, "__args__", ())) if isinstance(a, type) and issubclass(a, BaseModel))
    out = []
    for value in values:
        try:
            model.model_validate({path[-1]: value})
        except ValidationError:
            continue
        out.append(value)
    return out


def specimen_row(row: Row) -> dict[str, Any]:
    """The row as the specimen stage sees it: patient-level values other than the tumor code and scoring system
    left out (so that their problems are the patient stage's, and one specimen key has one outcome)."""
    return {**row, **dict.fromkeys(_PATIENT_ONLY)}


def signature(stage: SpecimenStage) -> Hashable:
    """What the patient stage and the slim answer can read of a specimen stage."""
    findings = tuple(
        (f.index, f.usable_tissue, f.is_plasma, f.status, f.pending, f.needs, f.gastric_3plus,
         f.ihc is None, f.ish is None, f.ngs is None, f.result.model_dump_json(exclude=_RESULT_ECHO))
        for f in stage.findings
    )
    col = stage.col
    return (
        stage.family.guideline_specific, stage.system.id, stage.her2.model_dump_json(exclude={"basis"}), findings,
        tuple((r.code, r.specimen) for r in col.recommendations()),
        tuple((f.code, tuple(f.specimens)) for f in col.flags()),
        tuple(entry.rule for entry in col.trace),
    )
