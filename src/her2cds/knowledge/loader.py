"""Load, validate and index the knowledge base.

Loading is explicit (``load_knowledge_base()``), never done at import time. The result is immutable;
``default_knowledge_base()`` memoises the packaged knowledge base so that repeated calls are cheap.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel, ValidationError

from her2cds.errors import KnowledgeBaseError, NotFoundError
from her2cds.knowledge import precompiled
from her2cds.knowledge.schema import (
    SUPPORTED_SCHEMA_VERSIONS,
    CodeDef,
    CodesFile,
    CriteriaSet,
    DomainRange,
    FamiliesFile,
    Family,
    MetaFile,
    Rule,
    RulesFile,
    ScoringFile,
    ScoringSystem,
    Source,
    SourceRef,
    SourcesFile,
    TestingFile,
    TestingIndication,
    Threshold,
    TumorTypesFile,
    Variant,
    VariantClass,
    VariantsFile,
)

_M = TypeVar("_M", bound=BaseModel)

if TYPE_CHECKING:
    from her2cds.knowledge.therapy import TherapyData

@dataclass(frozen=True)
class TumorType:
    code: str
    name: str
    parent: str | None
    main_type: str

    @property
    def id(self) -> str:
        return f"oncotree.{self.code.lower()}"


@dataclass(frozen=True)
class KnowledgeBase:
    """The validated, indexed knowledge base. Immutable; safe to share between threads."""

    meta: MetaFile
    root: Path
    sources: Mapping[str, Source]
    tumor_release: str
    tumor_source: SourceRef
    tumor_types: Mapping[str, TumorType]
    families: tuple[Family, ...]
    excluded_roots: frozenset[str]
    excluded_sources: tuple[SourceRef, ...]
    systems: Mapping[str, ScoringSystem]
    thresholds: Mapping[str, Threshold]
    rules: Mapping[str, Rule]
    variants: tuple[Variant, ...]
    variant_classes: tuple[VariantClass, ...]
    variant_domains: tuple[DomainRange, ...]
    variant_index: Mapping[str, Variant]
    kinase_domain: tuple[int, int]
    kinase_domain_sources: tuple[SourceRef, ...]
    variants_transcript: str
    codes: Mapping[str, CodeDef]
    testing: tuple[TestingIndication, ...]
    therapy: TherapyData | None = None
    criteria_sets: Mapping[str, CriteriaSet] = dataclasses.field(default_factory=dict)  # by guideline id

    @property
    def version(self) -> str:
        return self.meta.version

    # -- tumor types -------------------------------------------------------------------------
    def lineage(self, code: str) -> tuple[str, ...]:
        """The code and its ancestors, nearest first (up to the tissue node)."""
        chain: list[str] = []
        current: str | None = code
        while current is not None:
            chain.append(current)
            node = self.tumor_types.get(current)
            current = node.parent if node else None
        return tuple(chain)

    def family_for(self, code: str) -> Family | None:
        """The tumor family of an OncoTree code, by walking up the tree; None for non-solid tissues."""
        lineage = self.lineage(code)
        if self.excluded_roots.intersection(lineage):
            return None
        for ancestor in lineage:
            for family in self.families:
                if ancestor in family.roots:
                    return family
        return self.fallback_family

    @functools.cached_property
    def fallback_family(self) -> Family:
        for family in self.families:
            if family.fallback:
                return family
        raise KnowledgeBaseError("no fallback tumor family is defined")

    # -- listing -------------------------------------------------------------------------------
    def entries(self) -> Iterator[dict[str, Any]]:
        """Every entry as a JSON-ready dict with at least id, kind, sources and status."""
        for source in self.sources.values():
            # a source is its own provenance (title, citation, DOI/PMID/URL)
            yield {"kind": "source", "sources": [{"id": source.id}],
                   **source.model_dump(mode="json", exclude_none=True)}
        tumor_sources = [self.tumor_source.model_dump(mode="json", exclude_none=True)]
        for tumor in self.tumor_types.values():
            yield {
                "id": tumor.id,
                "kind": "tumor_type",
                "code": tumor.code,
                "name": tumor.name,
                "parent": tumor.parent,
                "main_type": tumor.main_type,
                "sources": tumor_sources,
                "status": "verified",
            }
        for model in self._models():
            yield model.model_dump(mode="json", exclude_none=True)
        if self.therapy is not None:
            yield from self.therapy.entries()

    def _models(self) -> Iterator[BaseModel]:
        yield from self.families
        for system in self.systems.values():
            yield system.model_copy(update={"rules": [], "thresholds": []})
        yield from self.thresholds.values()
        yield from self.rules.values()
        yield from self.variants
        yield from self.variant_classes
        yield from self.codes.values()
        yield from self.testing
        yield from self.criteria_sets.values()

    @functools.cached_property
    def _index(self) -> dict[str, dict[str, Any]]:
        return {entry["id"]: entry for entry in self.entries()}

    def get(self, entry_id: str) -> dict[str, Any]:
        try:
            return self._index[entry_id]
        except KeyError:
            raise NotFoundError(f"no knowledge-base entry with id {entry_id!r}") from None

    def has(self, entry_id: str) -> bool:
        return entry_id in self._index

    def rule(self, rule_id: str) -> Rule:
        try:
            return self.rules[rule_id]
        except KeyError:
            raise KnowledgeBaseError(f"the engine asked for rule {rule_id!r}, which is not defined") from None



# --------------------------------------------------------------------------------------------
def data_root() -> Path:
    """The packaged knowledge-base folder."""
    return Path(str(resources.files("her2cds.knowledge") / "data"))


def read_yaml(path: Path, what: str = "knowledge file") -> Any:
    """Read one YAML file with a safe loader; any failure is a KnowledgeBaseError naming the file."""
    return _parse_yaml(_read_bytes(path, what), path, what)


def _read_bytes(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise KnowledgeBaseError(f"cannot read {what} {path}: {exc}") from exc


def _parse_yaml(content: bytes, path: Path, what: str) -> Any:
    import yaml  # only when a file is not precompiled (knowledge/precompiled.py): start-up stays cheap

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # the C loader when PyYAML was built with it
    try:
        return yaml.load(content.decode("utf-8"), Loader=loader)
    except UnicodeDecodeError as exc:
        raise KnowledgeBaseError(f"cannot read {what} {path}: {exc}") from exc
    except yaml.YAMLError as exc:
        raise KnowledgeBaseError(f"{what} {path} is not valid YAML: {exc}") from exc


def parse_file(model: type[_M], path: Path, what: str = "knowledge file") -> _M:
    """Read and validate one knowledge file; the error names the file, the field and the problem.

    The validated model is precompiled: kept in the user cache under the hash of the file's bytes and
    reused while neither the file nor the code changes (knowledge/precompiled.py, D14.3)."""
    content = _read_bytes(path, what)
    cached = precompiled.fetch(model, content)
    if cached is not None:
        return cached
    try:
        value = model.model_validate(_parse_yaml(content, path, what))
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise KnowledgeBaseError(
            f"{what} {path.name}: {where}: {first['msg']} ({exc.error_count()} problem(s))"
        ) from exc
    precompiled.store(model, content, value)
    return value


def load_knowledge_base(root: Path | None = None) -> KnowledgeBase:
    """Load and validate the knowledge base in ``root`` (default: the packaged one)."""
    root = root or data_root()
    meta = parse_file(MetaFile, root / "kb.yaml")
    if meta.schema_version not in SUPPORTED_SCHEMA_VERSIONS:
        raise KnowledgeBaseError(
            f"knowledge-base schema version {meta.schema_version!r} is not supported "
            f"(this engine reads {', '.join(SUPPORTED_SCHEMA_VERSIONS)})"
        )
    sources: dict[str, Source] = {}
    for path in sorted(root.rglob("sources*.yaml")):
        for source in parse_file(SourcesFile, path).sources:
            if source.id in sources:
                raise KnowledgeBaseError(f"source id {source.id!r} is defined twice ({path.name})")
            sources[source.id] = source

    tumor_file = parse_file(TumorTypesFile, root / "tumor_types.yaml")
    tumor_types = {row[0]: TumorType(code=row[0], name=row[1], parent=row[2], main_type=row[3])
                   for row in tumor_file.types}

    families_file = parse_file(FamiliesFile, root / "families.yaml")
    systems: dict[str, ScoringSystem] = {}
    thresholds: dict[str, Threshold] = {}
    rules: dict[str, Rule] = {}
    criteria_sets: dict[str, CriteriaSet] = {}

    def add_threshold(threshold: Threshold) -> None:
        if threshold.id in thresholds:
            raise KnowledgeBaseError(f"threshold id {threshold.id!r} is defined twice")
        thresholds[threshold.id] = threshold

    def add_rule(rule: Rule) -> None:
        if rule.id in rules:
            raise KnowledgeBaseError(f"rule id {rule.id!r} is defined twice")
        rules[rule.id] = rule

    for path in sorted((root / "scoring").glob("*.yaml")):
        system = parse_file(ScoringFile, path).system
        if system.id in systems:
            raise KnowledgeBaseError(f"scoring system {system.id!r} is defined twice")
        systems[system.id] = system
        for threshold in system.thresholds:
            add_threshold(threshold)
        for rule in system.rules:
            add_rule(rule)
    for rule in families_file.rules:
        add_rule(rule)
    for path in sorted((root / "rules").glob("*.yaml")):
        rules_file = parse_file(RulesFile, path)
        for threshold in rules_file.thresholds:
            add_threshold(threshold)
        for rule in rules_file.rules:
            add_rule(rule)
        for cset in rules_file.criteria_sets:
            if cset.guideline in criteria_sets:
                raise KnowledgeBaseError(f"criteria set for {cset.guideline!r} is defined twice")
            criteria_sets[cset.guideline] = cset

    variants_file = parse_file(VariantsFile, root / "variants.yaml")
    codes: dict[str, CodeDef] = {}
    for code in parse_file(CodesFile, root / "codes.yaml").codes:
        if code.code in codes:
            raise KnowledgeBaseError(f"code {code.code!r} is defined twice")
        codes[code.code] = code

    from her2cds.knowledge.variants import build_variant_index, kinase_range  # local: keeps import light

    kinase = kinase_range(variants_file.domains)

    kb = KnowledgeBase(
        meta=meta,
        root=root,
        sources=sources,
        tumor_release=tumor_file.release,
        tumor_source=tumor_file.source,
        tumor_types=tumor_types,
        families=tuple(families_file.families),
        excluded_roots=frozenset(families_file.excluded_roots),
        excluded_sources=tuple(families_file.excluded_sources),
        systems=systems,
        thresholds=thresholds,
        rules=rules,
        variants=tuple(variants_file.variants),
        variant_classes=tuple(variants_file.classes),
        variant_domains=tuple(variants_file.domains),
        variant_index=build_variant_index(variants_file.variants),
        kinase_domain=kinase.start_end,
        kinase_domain_sources=kinase.sources,
        variants_transcript=variants_file.transcript,
        codes=codes,
        testing=tuple(parse_file(TestingFile, root / "testing.yaml").indications),
        criteria_sets=dict(sorted(criteria_sets.items(), key=lambda item: item[1].published_online)),
    )
    from her2cds.knowledge.checks import check_integrity
    from her2cds.knowledge.therapy import load_therapy_data

    check_integrity(kb)
    return dataclasses.replace(kb, therapy=load_therapy_data(root, sources, tumor_types))


@functools.cache
def default_knowledge_base() -> KnowledgeBase:
    """The packaged knowledge base, loaded once per process (immutable, so sharing is safe)."""
    return load_knowledge_base()
