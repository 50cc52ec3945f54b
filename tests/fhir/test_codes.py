"""The FHIR code table: it loads, is consistent with the knowledge base, and every code in it is well formed."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from her2cds.adapters.fhir.codes import CodeMap, default_code_map, load_code_map
from her2cds.errors import KnowledgeBaseError
from her2cds.knowledge.loader import KnowledgeBase

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "src" / "her2cds" / "knowledge" / "data"


@pytest.fixture(scope="module")
def cm() -> CodeMap:
    return default_code_map()


def _loinc_check_digit(number: str) -> int:
    total = 0
    for position, char in enumerate(reversed(number)):
        digit = int(char)
        if position % 2 == 0:
            digit *= 2
            digit = digit - 9 if digit > 9 else digit
        total += digit
    return (10 - total % 10) % 10


def _all_loinc_terms(cm: CodeMap) -> list[str]:
    f = cm.file
    refs = [r for e in f.observations for r in e.codes] + [r for e in f.components for r in e.codes]
    refs += [e.code for e in f.outbound]
    return sorted({r.code for r in refs if r.system == "loinc"})


def test_loads_and_indexes(cm: CodeMap) -> None:
    assert cm.system_name("http://loinc.org") == "loinc"
    assert cm.system_name("SNOMED-CT") == "snomed"  # Synthea module spelling
    assert cm.observation_index[("loinc", "48676-1")].role == "her2_interpretation"
    assert cm.answer_index[("loinc", "LA11843-2")].meaning == "ihc_3"
    assert len(list(cm.entries())) > 100


def test_loinc_term_codes_have_valid_check_digits(cm: CodeMap) -> None:
    terms = _all_loinc_terms(cm)
    assert len(terms) >= 30
    bad = [code for code in terms if _loinc_check_digit(code.split("-")[0]) != int(code.split("-")[1])]
    assert not bad, bad


def test_the_nonexistent_72383_4_is_not_used(cm: CodeMap) -> None:
    assert "72383-4" not in _all_loinc_terms(cm)
    assert "72383-3" in _all_loinc_terms(cm)


def test_every_oncotree_code_exists(cm: CodeMap, kb: KnowledgeBase) -> None:
    codes = {rule.oncotree for rule in cm.file.tumor_rules} | {cm.file.fallback.oncotree}
    missing = sorted(code for code in codes if code not in kb.tumor_types)
    assert not missing, missing


def test_every_tumor_family_is_reachable(cm: CodeMap, kb: KnowledgeBase) -> None:
    """Each tumor family the rules cover has at least one code-table rule leading into it."""
    reached = {family.id for rule in cm.file.tumor_rules if (family := kb.family_for(rule.oncotree)) is not None}
    expected = {f.id for f in kb.families if not f.fallback}
    assert expected <= reached, sorted(expected - reached)


def test_source_ids_resolve_across_the_knowledge_base(kb: KnowledgeBase, cm: CodeMap) -> None:
    used: set[str] = set()
    for entry in cm.entries():
        sources = entry["sources"]
        assert isinstance(sources, list) and sources, entry["id"]
        used |= {str(source["id"]) for source in sources}
    assert used <= set(kb.sources), sorted(used - set(kb.sources))


def test_entry_ids_are_unique_and_prefixed(cm: CodeMap) -> None:
    ids = [str(entry["id"]) for entry in cm.entries()]
    assert len(ids) == len(set(ids))
    assert all(i.startswith("fhir.") for i in ids)


def test_unknown_source_is_rejected(tmp_path: Path) -> None:
    root = _copy_data(tmp_path)
    path = root / "fhir" / "code_map.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("{id: hgnc}", "{id: no-such-source}", 1),
                    encoding="utf-8")
    with pytest.raises(KnowledgeBaseError, match="unknown source 'no-such-source'"):
        load_code_map(root)


def test_duplicate_code_is_rejected(tmp_path: Path) -> None:
    root = _copy_data(tmp_path)
    path = root / "fhir" / "code_map.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["observations"][1]["codes"].append({"system": "loinc", "code": "85319-2"})
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    with pytest.raises(KnowledgeBaseError, match="85319-2"):
        load_code_map(root)


def test_extra_field_is_rejected(tmp_path: Path) -> None:
    root = _copy_data(tmp_path)
    path = root / "fhir" / "code_map.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["genes"][0]["colour"] = "red"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    with pytest.raises(KnowledgeBaseError, match="genes"):
        load_code_map(root)


def _copy_data(tmp_path: Path) -> Path:
    root = tmp_path / "data"
    for source in DATA.rglob("sources*.yaml"):
        target = root / source.relative_to(DATA)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(source.read_text(encoding="utf-8"), encoding="utf-8")
    (root / "fhir" / "code_map.yaml").write_text((DATA / "fhir" / "code_map.yaml").read_text(encoding="utf-8"),
                                                  encoding="utf-8")
    return root


# -- documentation ---------------------------------------------------------------------------------------
DOC = ROOT / "docs" / "fhir.md"


def test_every_code_is_documented(cm: CodeMap) -> None:
    text = DOC.read_text(encoding="utf-8")
    f = cm.file
    refs = [r for e in f.observations for r in e.codes] + [r for e in f.components for r in e.codes]
    refs += [r for e in f.answers for r in e.codes] + [r for e in f.copy_number for r in e.codes]
    refs += [r for e in f.specimens for r in e.codes]
    codes = {r.code for r in refs}
    codes |= {e.code.code for e in f.outbound} | {g.hgnc for g in f.genes}
    codes |= {s for rule in f.tumor_rules for s in rule.snomed} | {t for rule in f.tumor_rules for t in rule.topography}
    codes |= {m for rule in f.tumor_rules for m in rule.morphology} | {rule.oncotree for rule in f.tumor_rules}
    missing = sorted(c for c in codes if f"`{c}`" not in text)
    assert not missing, f"undocumented in docs/fhir.md: {missing}"


def test_every_entry_id_is_documented(cm: CodeMap) -> None:
    text = DOC.read_text(encoding="utf-8")
    missing = sorted(str(e["id"]) for e in cm.entries() if f"`{e['id']}`" not in text)
    assert not missing, missing


def test_every_warning_code_is_documented() -> None:
    text = DOC.read_text(encoding="utf-8")
    package = ROOT / "src" / "her2cds" / "adapters" / "fhir" / "inbound"
    source = "\n".join(f.read_text(encoding="utf-8") for f in sorted(package.glob("*.py")))
    warnings = set(re.findall(r'warn\(\s*"([a-z_]+)"', source))
    assert len(warnings) >= 20
    missing = sorted(w for w in warnings if f"`fhir.{w}`" not in text)
    assert not missing, missing
