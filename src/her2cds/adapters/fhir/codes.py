"""The FHIR code table: schema of ``knowledge/data/fhir/code_map.yaml``, its loader and lookup index.

Clinical codes (LOINC, SNOMED CT, ICD-10, ICD-O-3, HGNC, Sequence Ontology, drug names) live in the YAML file,
each entry with an id, sources and a verification status. This module only knows FHIR's structure. Loading is
explicit and memoised (:func:`default_code_map`); nothing is read at import time.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict, Field, model_validator

from her2cds.errors import KnowledgeBaseError
from her2cds.knowledge.loader import data_root, parse_file
from her2cds.knowledge.schema import EntryId, SourceRef, SourcesFile, Status
from her2cds.model.enums import CopyNumberCall, IhcScore, Procedure, Site

__all__ = [
    "AnswerEntry",
    "CodeMap",
    "CodeRef",
    "DrugEntry",
    "ObservationEntry",
    "TumorRule",
    "default_code_map",
    "load_code_map",
]

SUPPORTED_SCHEMA_VERSIONS = ("1",)

ObservationRole = Literal[
    "her2_ihc", "her2_ish", "her2_ish_ratio", "her2_ish_copies", "her2_ish_panel", "her2_interpretation",
    "er", "pr", "hormone_receptor", "pd_l1_cps", "variant", "m_category", "unsupported",
]
ComponentRole = Literal[
    "gene_studied", "amino_acid_change", "dna_change", "dna_change_type", "copy_number",
    "genomic_source_class", "cnv_type",
]
Meaning = Literal[
    "positive", "negative", "equivocal", "indeterminate", "present", "absent", "ihc_0", "ihc_1", "ihc_2",
    "ihc_3", "her2_low", "her2_ultralow", "amplified", "not_amplified", "somatic", "germline",
]
GeneName = Literal["ERBB2", "KRAS", "NRAS"]
Icd10Category = Annotated[str, Field(pattern=r"^[A-Z][0-9][0-9A-Z]$")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CodeRef(_Strict):
    system: str = Field(description="canonical system name (a key of `systems`)")
    code: str
    display: str | None = None


class _Entry(_Strict):
    id: EntryId
    sources: Annotated[list[SourceRef], Field(min_length=1)]
    status: Status
    note: str | None = None


class ObservationEntry(_Entry):
    kind: Literal["fhir_observation_code"] = "fhir_observation_code"
    role: ObservationRole
    codes: list[CodeRef]
    text_patterns: list[str] = Field(default=[], description="words in Observation.code text/display (lowercase)")
    profiles: list[str] = Field(default=[], description="meta.profile canonicals that imply this role")
    reason: str | None = Field(default=None, description="why an 'unsupported' code is not used")

    @model_validator(mode="after")
    def _reason_for_unsupported(self) -> ObservationEntry:
        if (self.role == "unsupported") != (self.reason is not None):
            raise ValueError("an 'unsupported' observation code needs a reason (and only it)")
        return self


class ComponentEntry(_Entry):
    kind: Literal["fhir_component_code"] = "fhir_component_code"
    role: ComponentRole
    codes: list[CodeRef]


class AnswerEntry(_Entry):
    kind: Literal["fhir_answer"] = "fhir_answer"
    meaning: Meaning
    codes: list[CodeRef]
    texts: list[str] = []


class QualitativeIhcEntry(_Entry):
    kind: Literal["fhir_qualitative_ihc"] = "fhir_qualitative_ihc"
    meaning: Meaning
    score: IhcScore


class GeneEntry(_Entry):
    kind: Literal["fhir_gene"] = "fhir_gene"
    gene: GeneName
    hgnc: Annotated[str, Field(pattern=r"^HGNC:\d+$")]


class CopyNumberEntry(_Entry):
    kind: Literal["fhir_copy_number"] = "fhir_copy_number"
    call: CopyNumberCall | None
    codes: list[CodeRef]


class MorphologyGroup(_Entry):
    kind: Literal["fhir_morphology_group"] = "fhir_morphology_group"
    name: str
    ranges: list[tuple[int, int]]


class TumorRule(_Entry):
    kind: Literal["fhir_tumor_rule"] = "fhir_tumor_rule"
    oncotree: Annotated[str, Field(min_length=1, max_length=40)]
    snomed: list[str] = []
    topography: list[str] = Field(default=[], description="ICD-10 / ICD-O-3 topography prefixes, e.g. C50 or C16.0")
    morphology: list[str] = Field(default=[], description="ICD-O-3 morphology code prefixes, e.g. 8500")
    morphology_group: str | None = None
    no_morphology: bool = False
    assumption: str | None = None

    @model_validator(mode="after")
    def _matchable(self) -> TumorRule:
        if not (self.snomed or self.topography or self.morphology):
            raise ValueError("a tumor rule needs snomed codes, topography or morphology")
        if self.no_morphology and (self.morphology or self.morphology_group):
            raise ValueError("no_morphology excludes morphology conditions")
        return self


class FallbackEntry(_Entry):
    kind: Literal["fhir_tumor_fallback"] = "fhir_tumor_fallback"
    oncotree: str
    assumption: str


class NeoplasmRanges(_Entry):
    kind: Literal["fhir_neoplasm_ranges"] = "fhir_neoplasm_ranges"
    malignant: list[tuple[Icd10Category, Icd10Category]]
    secondary: list[tuple[Icd10Category, Icd10Category]]
    secondary_snomed: list[str] = []


class MetastasisValues(_Entry):
    kind: Literal["fhir_metastasis_values"] = "fhir_metastasis_values"
    patterns: list[str]


class SpecimenEntry(_Entry):
    kind: Literal["fhir_specimen_type"] = "fhir_specimen_type"
    procedure: Procedure | None = None
    site: Site | None = None
    codes: list[CodeRef] = []
    keywords: list[str] = []

    @model_validator(mode="after")
    def _one_effect(self) -> SpecimenEntry:
        if (self.procedure is None) == (self.site is None):
            raise ValueError("a specimen entry sets exactly one of procedure or site")
        return self


class DrugEntry(_Entry):
    kind: Literal["fhir_drug"] = "fhir_drug"
    inn: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9 -]*$")]
    also: list[str] = Field(default=[], description="further INNs of a fixed combination product")
    names: Annotated[list[str], Field(min_length=1)]
    codes: list[CodeRef] = []


class OutboundEntry(_Entry):
    kind: Literal["fhir_outbound_code"] = "fhir_outbound_code"
    role: Literal["medication_assessed", "treatment_context", "diagnostic_report", "report_category"]
    code: CodeRef


class SnomedConceptEntry(_Entry):
    """A SNOMED CT concept read as an ICD-O-3 morphology (mCODE histology) or a primary site (ICD-O-3 / ICD-10
    topography): how an mCODE primary-cancer Condition coded only in SNOMED CT reaches the tumor-type rules."""

    kind: Literal["fhir_snomed_concept"] = "fhir_snomed_concept"
    snomed: Annotated[str, Field(pattern=r"^\d{6,18}$")]
    display: str
    morphology: Annotated[str, Field(pattern=r"^\d{4}/\d$")] | None = Field(
        default=None, description="ICD-O-3 morphology/behaviour, e.g. 8500/3")
    topography: Annotated[str, Field(pattern=r"^C\d{2}(\.\d)?$")] | None = Field(
        default=None, description="ICD-O-3 / ICD-10 topography, e.g. C50")

    @model_validator(mode="after")
    def _one_meaning(self) -> SnomedConceptEntry:
        if (self.morphology is None) == (self.topography is None):
            raise ValueError("give exactly one of morphology or topography")
        return self


class RxNormEntry(_Entry):
    """The RxNorm ingredient concept written for a drug (by INN) in FHIR out; only verified entries are written."""

    kind: Literal["fhir_rxnorm"] = "fhir_rxnorm"
    inn: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9 -]*$")]
    code: CodeRef


class Urls(_Strict):
    oncotree_code_extension: str
    disease_setting_extension: str
    histology_extension: str
    secondary_cancer_profile: str
    primary_cancer_profile: str
    tbd_codes: str
    therapeutic_implication_profile: str
    her2cds_codes: str
    knowledge_entry: str
    specimen_id: str
    device_identifier: str


class CodeMapFile(_Strict):
    schema_version: str
    systems: dict[str, list[str]]
    urls: Urls
    observations: list[ObservationEntry]
    components: list[ComponentEntry]
    answers: list[AnswerEntry]
    qualitative_ihc: list[QualitativeIhcEntry]
    genes: list[GeneEntry]
    copy_number: list[CopyNumberEntry]
    morphology_groups: list[MorphologyGroup]
    tumor_rules: list[TumorRule]
    fallback: FallbackEntry
    neoplasm_ranges: NeoplasmRanges
    metastasis_values: MetastasisValues
    specimens: list[SpecimenEntry]
    drug_name_prefixes: list[str] = []
    drug_name_suffix_pattern: str | None = None
    drugs: list[DrugEntry]
    outbound: list[OutboundEntry]
    snomed_concepts: list[SnomedConceptEntry] = []
    rxnorm: list[RxNormEntry] = []


_Key = tuple[str, str]  # (canonical system, code)


def _norm_code(code: str) -> str:
    return code.strip().upper()


@dataclass(frozen=True)
class CodeMap:
    """The validated code table with lookup indexes. Immutable; share freely."""

    file: CodeMapFile
    system_names: Mapping[str, str]
    observation_index: Mapping[_Key, ObservationEntry]
    component_index: Mapping[_Key, ComponentEntry]
    answer_index: Mapping[_Key, AnswerEntry]
    answer_texts: Mapping[str, AnswerEntry]
    qualitative_ihc: Mapping[str, QualitativeIhcEntry]
    gene_index: Mapping[str, GeneEntry]
    copy_number_index: Mapping[_Key, CopyNumberEntry]
    morphology_groups: Mapping[str, MorphologyGroup]
    specimen_index: Mapping[_Key, SpecimenEntry]
    drug_index: Mapping[_Key, DrugEntry]
    drug_names: tuple[tuple[re.Pattern[str], DrugEntry], ...]
    metastasis_patterns: tuple[re.Pattern[str], ...]
    text_pattern_entries: tuple[tuple[str, ObservationEntry], ...]
    profile_index: Mapping[str, ObservationEntry]
    snomed_concepts: Mapping[str, SnomedConceptEntry]
    rxnorm: Mapping[str, RxNormEntry]

    @property
    def urls(self) -> Urls:
        return self.file.urls

    def system_name(self, uri: str | None) -> str | None:
        """The canonical name of a system URI (or legacy system name), None when unknown."""
        if uri is None:
            return None
        return self.system_names.get(uri.strip()) or self.system_names.get(uri.strip().rstrip("/"))

    def outbound_code(self, role: str) -> CodeRef:
        for entry in self.file.outbound:
            if entry.role == role:
                return entry.code
        raise KnowledgeBaseError(f"the FHIR code table has no outbound code for {role!r}")

    def observation_code(self, role: str) -> CodeRef:
        """The first code listed for an observation role (what FHIR out writes for it)."""
        for entry in self.file.observations:
            if entry.role == role and entry.codes:
                return entry.codes[0]
        raise KnowledgeBaseError(f"the FHIR code table has no observation code for {role!r}")

    def answer_code(self, meaning: str, system: str = "loinc") -> CodeRef | None:
        """The first code of ``system`` for an answer meaning (e.g. LOINC LA6576-8 for positive)."""
        for entry in self.file.answers:
            if entry.meaning == meaning:
                for ref in entry.codes:
                    if ref.system == system:
                        return ref
        return None

    def uri(self, name: str) -> str:
        """The preferred URI of a canonical system name (the first one listed)."""
        return self.file.systems[name][0]

    # -- entries for the knowledge listing ------------------------------------------------------
    def entries(self) -> Iterator[dict[str, Any]]:
        """Every entry as a JSON-ready dict with id, kind, sources and status (for /v1/knowledge)."""
        f = self.file
        groups: list[Iterable[_Entry]] = [
            f.observations, f.components, f.answers, f.qualitative_ihc, f.genes, f.copy_number,
            f.morphology_groups, f.tumor_rules, [f.fallback, f.neoplasm_ranges, f.metastasis_values],
            f.specimens, f.drugs, f.outbound, f.snomed_concepts, f.rxnorm,
        ]
        for group in groups:
            for entry in group:
                yield entry.model_dump(mode="json", exclude_none=True)


def _source_ids(root: Path) -> set[str]:
    ids: set[str] = set()
    for path in sorted(root.rglob("sources*.yaml")):
        ids.update(source.id for source in parse_file(SourcesFile, path, "sources file").sources)
    return ids


class _Coded(Protocol):
    @property
    def id(self) -> str: ...

    @property
    def codes(self) -> list[CodeRef]: ...


_E = TypeVar("_E", bound=_Coded)


def _index_codes(entries: Iterable[_E], systems: Mapping[str, list[str]], what: str,
                 problems: list[str]) -> dict[_Key, _E]:
    index: dict[_Key, _E] = {}
    for entry in entries:
        for ref in entry.codes:
            if ref.system not in systems:
                problems.append(f"{entry.id}: unknown system name {ref.system!r}")
                continue
            key = (ref.system, _norm_code(ref.code))
            if key in index and index[key].id != entry.id:
                problems.append(f"{what} code {ref.system}|{ref.code} is in {index[key].id} and {entry.id}")
            index[key] = entry
    return index


def _check_sources(file: CodeMapFile, known: set[str], problems: list[str]) -> None:
    groups: list[Iterable[_Entry]] = [
        file.observations, file.components, file.answers, file.qualitative_ihc, file.genes, file.copy_number,
        file.morphology_groups, file.tumor_rules, [file.fallback, file.neoplasm_ranges, file.metastasis_values],
        file.specimens, file.drugs, file.outbound,
    ]
    seen: set[str] = set()
    for group in groups:
        for item in group:
            if item.id in seen:
                problems.append(f"entry id {item.id!r} is used twice")
            seen.add(item.id)
            for ref in item.sources:
                if ref.id not in known:
                    problems.append(f"{item.id}: unknown source {ref.id!r}")


def _word_pattern(name: str) -> re.Pattern[str]:
    return re.compile(r"(?<![a-z0-9])" + re.escape(name.lower()) + r"(?![a-z0-9])")


def build_code_map(file: CodeMapFile, known_sources: set[str]) -> CodeMap:
    """Index a parsed code table; raise KnowledgeBaseError listing every inconsistency."""
    problems: list[str] = []
    if file.schema_version not in SUPPORTED_SCHEMA_VERSIONS:
        problems.append(f"schema_version {file.schema_version!r} is not supported")
    _check_sources(file, known_sources, problems)
    system_names: dict[str, str] = {}
    for name, uris in file.systems.items():
        for uri in uris:
            if uri in system_names:
                problems.append(f"system URI {uri!r} is listed for {system_names[uri]} and {name}")
            system_names[uri] = name
    answer_texts: dict[str, AnswerEntry] = {}
    for answer in file.answers:
        for text in answer.texts:
            key = text.strip().lower()
            if key in answer_texts and answer_texts[key].id != answer.id:
                problems.append(f"answer text {text!r} is in {answer_texts[key].id} and {answer.id}")
            answer_texts[key] = answer
    groups = {group.name: group for group in file.morphology_groups}
    for rule in file.tumor_rules:
        if rule.morphology_group is not None and rule.morphology_group not in groups:
            problems.append(f"{rule.id}: unknown morphology group {rule.morphology_group!r}")
    genes: dict[str, GeneEntry] = {}
    for gene in file.genes:
        genes[gene.hgnc.upper()] = gene
        genes[gene.gene.upper()] = gene
    drug_names: list[tuple[str, DrugEntry]] = []
    for drug in file.drugs:
        drug_names.extend((name.lower(), drug) for name in drug.names)
    drug_names.sort(key=lambda item: len(item[0]), reverse=True)
    text_patterns = tuple(
        (pattern.lower(), entry) for entry in file.observations for pattern in entry.text_patterns
    )
    try:
        metastasis = tuple(re.compile(p, re.IGNORECASE) for p in file.metastasis_values.patterns)
        if file.drug_name_suffix_pattern:
            re.compile(file.drug_name_suffix_pattern)
    except re.error as exc:
        problems.append(f"invalid pattern: {exc}")
        metastasis = ()
    code_map = CodeMap(
        file=file,
        system_names=system_names,
        observation_index=_index_codes(file.observations, file.systems, "observation", problems),
        component_index=_index_codes(file.components, file.systems, "component", problems),
        answer_index=_index_codes(file.answers, file.systems, "answer", problems),
        answer_texts=answer_texts,
        qualitative_ihc={entry.meaning: entry for entry in file.qualitative_ihc},
        gene_index=genes,
        copy_number_index=_index_codes(file.copy_number, file.systems, "copy-number", problems),
        morphology_groups=groups,
        specimen_index=_index_codes(file.specimens, file.systems, "specimen", problems),
        drug_index=_index_codes(file.drugs, file.systems, "drug", problems),
        drug_names=tuple((_word_pattern(name), drug) for name, drug in drug_names),
        metastasis_patterns=metastasis,
        text_pattern_entries=text_patterns,
        profile_index={profile: entry for entry in file.observations for profile in entry.profiles},
        snomed_concepts={entry.snomed: entry for entry in file.snomed_concepts},
        rxnorm={entry.inn: entry for entry in file.rxnorm},
    )
    if problems:
        raise KnowledgeBaseError("FHIR code table is inconsistent:\n  " + "\n  ".join(problems))
    return code_map


def load_code_map(root: Path | None = None) -> CodeMap:
    """Load and validate ``fhir/code_map.yaml`` under ``root`` (default: the packaged knowledge base)."""
    root = root or data_root()
    file = parse_file(CodeMapFile, root / "fhir" / "code_map.yaml", "FHIR code table")
    return build_code_map(file, _source_ids(root))


@functools.cache
def default_code_map() -> CodeMap:
    """The packaged code table, loaded once per process (immutable, so sharing is safe)."""
    return load_code_map()


def _cell(value: object) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def _codes_cell(refs: Iterable[CodeRef]) -> str:
    return (
        "<br>".join(f"{ref.system} `{ref.code}`" + (f" {_cell(ref.display)}" if ref.display else "") for ref in refs)
        or "—"
    )


def _status_cell(entry: _Entry) -> str:
    return f"{entry.status}; " + ", ".join(
        f"{ref.id}" + (f" ({_cell(ref.locator)})" if ref.locator else "") for ref in entry.sources
    )


def code_table_markdown(code_map: CodeMap | None = None) -> str:
    """The code table as Markdown (the generated part of docs/fhir.md; a test keeps the two in step)."""
    f = (code_map or default_code_map()).file
    out: list[str] = []
    add = out.append
    add("### Systems\n\n| name | accepted system URIs |\n|---|---|")
    for name, uris in f.systems.items():
        add(f"| {name} | {'<br>'.join(uris)} |")
    add("\n### Observation codes\n\n| entry | role | codes | status; sources |\n|---|---|---|---|")
    for obs in f.observations:
        extra = [f"reason: {obs.reason}"] if obs.reason else []
        extra += [f"text: {', '.join(repr(p) for p in obs.text_patterns)}"] if obs.text_patterns else []
        extra += [f"profile: {p}" for p in obs.profiles]
        role = obs.role + ("<br>" + "<br>".join(_cell(x) for x in extra) if extra else "")
        add(f"| `{obs.id}` | {role} | {_codes_cell(obs.codes)} | {_status_cell(obs)} |")
    add("\n### Component codes (Genomics Reporting)\n\n| entry | role | codes | status; sources |\n|---|---|---|---|")
    for comp in f.components:
        add(f"| `{comp.id}` | {comp.role} | {_codes_cell(comp.codes)} | {_status_cell(comp)} |")
    add("\n### Answers\n\n| entry | meaning | codes | texts | status; sources |\n|---|---|---|---|---|")
    for ans in f.answers:
        texts = ", ".join(f"'{_cell(t)}'" for t in ans.texts) or "—"
        add(f"| `{ans.id}` | {ans.meaning} | {_codes_cell(ans.codes)} | {texts} | {_status_cell(ans)} |")
    add("\n### Qualitative IHC\n\n| entry | reported as | read as score | status; sources |\n|---|---|---|---|")
    for qual in f.qualitative_ihc:
        add(f"| `{qual.id}` | {qual.meaning} | {qual.score.value} | {_status_cell(qual)} |")
    add("\n### Genes\n\n| entry | gene | HGNC id | status; sources |\n|---|---|---|---|")
    for gene in f.genes:
        add(f"| `{gene.id}` | {gene.gene} | `{gene.hgnc}` | {_status_cell(gene)} |")
    add("\n### Copy-number kinds\n\n| entry | erbb2_cn_call | codes | status; sources |\n|---|---|---|---|")
    for cnv in f.copy_number:
        call = cnv.call.value if cnv.call else "(none: copy number passed without a call)"
        add(f"| `{cnv.id}` | {call} | {_codes_cell(cnv.codes)} | {_status_cell(cnv)} |")
    add("\n### ICD-O-3 morphology groups\n\n| entry | name | ranges | status; sources |\n|---|---|---|---|")
    for group in f.morphology_groups:
        ranges = ", ".join(f"{lo}–{hi}" for lo, hi in group.ranges)
        add(f"| `{group.id}` | {group.name} | {ranges} | {_status_cell(group)} |")
    add(
        "\n### Tumor type (Condition → OncoTree), first match wins\n\n"
        "| entry | OncoTree | topography | morphology | SNOMED CT | assumption (warned) | status; sources |\n"
        "|---|---|---|---|---|---|---|"
    )
    for rule in f.tumor_rules:
        morph = ", ".join(f"`{m}`" for m in rule.morphology)
        if rule.morphology_group:
            morph = f"group {rule.morphology_group}"
        if rule.no_morphology:
            morph = "none given"
        add(
            f"| `{rule.id}` | `{rule.oncotree}` | {', '.join(f'`{t}`' for t in rule.topography) or 'any'} | "
            f"{morph or 'any'} | {', '.join(f'`{s}`' for s in rule.snomed) or '—'} | "
            f"{_cell(rule.assumption or '')} | {_status_cell(rule)} |"
        )
    fb = f.fallback
    add(f"| `{fb.id}` | `{fb.oncotree}` | any malignant | any | — | {_cell(fb.assumption)} | {_status_cell(fb)} |")
    nr = f.neoplasm_ranges
    add(
        f"\n`{nr.id}`: malignant ICD-10 categories "
        f"{', '.join(f'{lo}–{hi}' for lo, hi in nr.malignant)}; secondary (metastatic) "
        f"{', '.join(f'{lo}–{hi}' for lo, hi in nr.secondary)} and SNOMED CT "
        f"{', '.join(f'`{s}`' for s in nr.secondary_snomed)} ({_status_cell(nr)})."
    )
    mv = f.metastasis_values
    add(
        f"\n`{mv.id}`: a TNM M category matching {', '.join(f'`{p}`' for p in mv.patterns)} means metastatic "
        f"({_status_cell(mv)})."
    )
    add(
        "\n### Specimens\n\n| entry | sets | codes | words in type / method / body site | status; sources |\n"
        "|---|---|---|---|---|"
    )
    for spec in f.specimens:
        sets = f"procedure {spec.procedure.value}" if spec.procedure else f"site {spec.site.value if spec.site else ''}"
        add(
            f"| `{spec.id}` | {sets} | {_codes_cell(spec.codes)} | {', '.join(spec.keywords) or '—'} | "
            f"{_status_cell(spec)} |"
        )
    add(
        f"\n### Drugs (prior agents)\n\nName prefixes removed: {', '.join(f'`{p}`' for p in f.drug_name_prefixes)}; "
        f"suffix pattern removed: `{f.drug_name_suffix_pattern}`.\n\n"
        "| entry | INN | also | names | status; sources |\n|---|---|---|---|---|"
    )
    for drug in f.drugs:
        add(
            f"| `{drug.id}` | {drug.inn} | {', '.join(drug.also) or '—'} | {', '.join(drug.names)} | "
            f"{_status_cell(drug)} |"
        )
    add("\n### Codes written by FHIR out\n\n| entry | role | code | status; sources |\n|---|---|---|---|")
    for ob in f.outbound:
        add(f"| `{ob.id}` | {ob.role} | {_codes_cell([ob.code])} | {_status_cell(ob)} |")
    add("\n### SNOMED CT morphology and site concepts (mCODE Condition in)\n\n"
        "| entry | SNOMED CT | read as | status; sources |\n|---|---|---|---|")
    for concept in f.snomed_concepts:
        meaning = f"morphology `{concept.morphology}`" if concept.morphology else f"topography `{concept.topography}`"
        add(f"| `{concept.id}` | `{concept.snomed}` {_cell(concept.display)} | {meaning} | {_status_cell(concept)} |")
    add("\n### RxNorm codings written for drugs (FHIR out; verified entries only)\n\n"
        "| entry | INN | code | status; sources |\n|---|---|---|---|")
    for rx in f.rxnorm:
        add(f"| `{rx.id}` | {rx.inn} | {_codes_cell([rx.code])} | {_status_cell(rx)} |")
    return "\n".join(out) + "\n"
