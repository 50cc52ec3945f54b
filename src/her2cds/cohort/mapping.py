"""The YAML mapping of a table (or an override for a real format): which source column is which canonical
column, value dictionaries (words -> codes), unit scales, constants and the words that mean "missing"."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from her2cds.cohort.columns import BY_NAME
from her2cds.errors import InvalidInputError, UsageError

Scalar = str | int | float | bool | None

DEFAULT_MISSING = (
    "", "na", "n/a", "nan", "null", "none", "unknown", "not available", "[not available]", "[unknown]",
    "[not evaluated]", "[not applicable]", "[not reported]", "[discrepancy]", "[pending]", "--",
)


def _canonical(names: Any) -> Any:
    for name in names:
        if name not in BY_NAME:
            raise ValueError(f"unknown canonical column {name!r}; see docs/cohort.md for the list")
    return names


class TableMapping(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    columns: dict[str, Annotated[str, Field(min_length=1)]] = Field(
        default={}, description="canonical column -> source column name")
    constants: dict[str, Scalar] = Field(default={}, description="canonical column -> value for every row")
    values: dict[str, dict[str, Scalar]] = Field(
        default={}, description="canonical column -> {source word: value}; matched case-insensitively")
    scale: dict[str, float] = Field(default={}, description="canonical column -> factor (e.g. percent -> 0.01)")
    missing: tuple[str, ...] = Field(default=DEFAULT_MISSING, description="words read as missing (any case)")
    delimiter: Annotated[str, Field(min_length=1, max_length=1)] | None = Field(
        default=None, description="CSV delimiter (default: tab for .tsv/.txt, comma otherwise)")

    _check_columns = field_validator("columns", "constants", "values", "scale")(
        classmethod(lambda cls, v: _canonical(v)))

    def merged(self, override: TableMapping | None) -> TableMapping:
        """This mapping with ``override``'s entries taking precedence."""
        if override is None:
            return self
        return TableMapping(
            columns={**self.columns, **override.columns}, constants={**self.constants, **override.constants},
            values={**self.values, **override.values}, scale={**self.scale, **override.scale},
            missing=tuple(dict.fromkeys((*self.missing, *override.missing))),
            delimiter=override.delimiter or self.delimiter,
        )


def load_mapping(path: str | Path) -> TableMapping:
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"cannot read mapping {path}: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        raise InvalidInputError.single("mapping", f"{path} is not valid YAML: {exc}", has_value=False) from None
    if not isinstance(data, dict):
        raise InvalidInputError.single("mapping", f"{path} must be a YAML mapping", type(data).__name__)
    try:
        return TableMapping.model_validate(data)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"])
        raise InvalidInputError.single(f"mapping.{where}", first["msg"].removeprefix("Value error, "),
                                       first.get("input")) from None
