"""The drug → class table: resolve prior agents (INN, brand, code name or regimen acronym) to drug classes.

Names are matched on a compact key (lowercase letters and digits only), so ``T-DXd``, ``tdxd`` and
``T DXd`` are the same name. An FDA biologic suffix (``trastuzumab-anns``) is dropped when the full name is
unknown. Inputs such as ``"FOLFOX + bevacizumab"`` or ``"carboplatin/paclitaxel"`` are split into parts.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from her2cds.errors import KnowledgeBaseError
from her2cds.knowledge.therapy_schema import Drug, DrugClass, DrugsFile, Regimen

_NON_ALNUM = re.compile(r"[^a-z0-9]+")
_BIOLOGIC_SUFFIX = re.compile(r"^(?P<base>.+?)-[a-z]{4}$")
_SPLIT = re.compile(r"\s*(?:\+|/|,|;|&|\bplus\b|\band\b|\bwith\b|\bthen\b|→|->)\s*", re.IGNORECASE)


def compact(name: str) -> str:
    """The matching key of a drug or regimen name."""
    return _NON_ALNUM.sub("", name.lower())


@dataclass(frozen=True, slots=True)
class NamedThing:
    """A drug or regimen as the table knows it."""

    id: str
    label: str
    inns: tuple[str, ...]
    classes: frozenset[str]


@dataclass(frozen=True, slots=True)
class Resolution:
    """Prior agents resolved to classes: which input names account for each class, and what is unknown."""

    by_class: Mapping[str, tuple[str, ...]]
    recognised: tuple[str, ...]
    unrecognised: tuple[str, ...]
    by_inn: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def agents_of(self, inns: Iterable[str]) -> tuple[str, ...]:
        """The input names that contain any of these drugs (by INN)."""
        found: list[str] = []
        for inn in inns:
            for agent in self.by_inn.get(inn, ()):
                if agent not in found:
                    found.append(agent)
        return tuple(found)

    def agents_in(self, classes: Iterable[str]) -> tuple[str, ...]:
        found: list[str] = []
        for cls in classes:
            for agent in self.by_class.get(cls, ()):
                if agent not in found:
                    found.append(agent)
        return tuple(found)


class DrugTable:
    """Immutable lookup from names to drugs/regimens and their (transitively closed) classes."""

    def __init__(self, data: DrugsFile) -> None:
        self.classes: dict[str, DrugClass] = {}
        for cls in data.classes:
            if cls.id in self.classes:
                raise KnowledgeBaseError(f"drug class {cls.id!r} is defined twice")
            self.classes[cls.id] = cls
        for cls in data.classes:
            for parent in cls.parents:
                if parent not in self.classes:
                    raise KnowledgeBaseError(f"drug class {cls.id}: unknown parent class {parent!r}")
        self._closure = {cls_id: self._ancestors(cls_id) for cls_id in self.classes}
        self._resolved: dict[tuple[str, ...], Resolution] = {}  # memo of resolve(): a pure function of its input

        self.drugs: dict[str, Drug] = {}
        for drug in data.drugs:
            if drug.inn in self.drugs:
                raise KnowledgeBaseError(f"drug {drug.inn!r} is defined twice")
            for cls_id in drug.classes:
                if cls_id not in self.classes:
                    raise KnowledgeBaseError(f"drug {drug.id}: unknown class {cls_id!r}")
            self.drugs[drug.inn] = drug
        self.regimens: dict[str, Regimen] = {}
        for regimen in data.regimens:
            if regimen.id in self.regimens:
                raise KnowledgeBaseError(f"regimen {regimen.id!r} is defined twice")
            for inn in regimen.drugs:
                if inn not in self.drugs:
                    raise KnowledgeBaseError(f"regimen {regimen.id}: unknown drug {inn!r}")
            for cls_id in regimen.classes:
                if cls_id not in self.classes:
                    raise KnowledgeBaseError(f"regimen {regimen.id}: unknown class {cls_id!r}")
            self.regimens[regimen.id] = regimen

        self._names: dict[str, NamedThing] = {}
        for drug in data.drugs:
            thing = NamedThing(drug.id, drug.inn, (drug.inn,), self.expand(drug.classes))
            for name in (drug.inn, *drug.aliases):
                self._add_name(name, thing)
        for regimen in data.regimens:
            classes: set[str] = set(self.expand(regimen.classes))
            for inn in regimen.drugs:
                classes |= self.classes_of(inn)
            thing = NamedThing(regimen.id, regimen.name, tuple(regimen.drugs), frozenset(classes))
            for name in (regimen.name, *regimen.aliases):
                self._add_name(name, thing)

    def _ancestors(self, cls_id: str) -> frozenset[str]:
        seen: set[str] = set()
        stack = [cls_id]
        while stack:
            current = stack.pop()
            if current in seen:
                continue
            seen.add(current)
            stack.extend(self.classes[current].parents)
        return frozenset(seen)

    def _add_name(self, name: str, thing: NamedThing) -> None:
        key = compact(name)
        if not key:
            raise KnowledgeBaseError(f"{thing.id}: name {name!r} has no letters or digits")
        other = self._names.get(key)
        if other is not None and other.id != thing.id:
            raise KnowledgeBaseError(f"name {name!r} is used by both {other.id} and {thing.id}")
        self._names[key] = thing

    # -- queries ----------------------------------------------------------------------------------
    def expand(self, classes: Iterable[str]) -> frozenset[str]:
        """The classes and all their ancestors."""
        out: set[str] = set()
        for cls_id in classes:
            out |= self._closure[cls_id]
        return frozenset(out)

    def classes_of(self, inn: str) -> frozenset[str]:
        return self.expand(self.drugs[inn].classes)

    def has_inn(self, inn: str) -> bool:
        return inn in self.drugs

    def has_class(self, cls_id: str) -> bool:
        return cls_id in self.classes

    def class_name(self, cls_id: str) -> str:
        return self.classes[cls_id].name

    def lookup(self, name: str) -> NamedThing | None:
        """One drug or regimen by any of its names; None when unknown."""
        thing = self._names.get(compact(name))
        if thing is not None:
            return thing
        match = _BIOLOGIC_SUFFIX.match(name.strip().lower())
        if match is not None:
            return self._names.get(compact(match.group("base")))
        return None

    def resolve(self, agents: Iterable[str]) -> Resolution:
        """Resolve free-text prior agents; a combined entry is split into its parts when needed."""
        key = tuple(agents)
        found = self._resolved.get(key)
        if found is None:
            found = self._resolve(key)
            if len(self._resolved) < 10_000:
                self._resolved[key] = found
        return found

    def _resolve(self, agents: tuple[str, ...]) -> Resolution:
        by_class: dict[str, list[str]] = {}
        by_inn: dict[str, list[str]] = {}
        recognised: list[str] = []
        unrecognised: list[str] = []
        for agent in agents:
            parts = [agent]
            things = [self.lookup(agent)]
            if things[0] is None:
                parts = [p for p in _SPLIT.split(agent) if p.strip()]
                things = [self.lookup(p) for p in parts]
            for part, thing in zip(parts, things, strict=True):
                if thing is None:
                    if part not in unrecognised:
                        unrecognised.append(part)
                    continue
                if agent not in recognised:
                    recognised.append(agent)
                for cls_id in thing.classes:
                    bucket = by_class.setdefault(cls_id, [])
                    if agent not in bucket:
                        bucket.append(agent)
                for inn in thing.inns:
                    bucket = by_inn.setdefault(inn, [])
                    if agent not in bucket:
                        bucket.append(agent)
        return Resolution(
            by_class={k: tuple(v) for k, v in by_class.items()},
            recognised=tuple(recognised),
            unrecognised=tuple(unrecognised),
            by_inn={k: tuple(v) for k, v in by_inn.items()},
        )

    def names(self) -> dict[str, str]:
        """Every known name key → the id of the drug or regimen (for documentation and tests)."""
        return {key: thing.id for key, thing in self._names.items()}
