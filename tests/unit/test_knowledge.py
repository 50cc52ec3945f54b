"""The knowledge base: provenance on every entry, integrity, and agreement with the official OncoTree."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from her2cds.errors import KnowledgeBaseError, NotFoundError
from her2cds.knowledge.loader import KnowledgeBase, load_knowledge_base
from tests.conftest import FIXTURES

ONCOTREE = FIXTURES / "oncotree" / "oncotree_2025_10_03.json"


def test_every_entry_has_id_kind_sources_status(kb: KnowledgeBase) -> None:
    entries = list(kb.entries())
    assert len(entries) > 500
    ids = [e["id"] for e in entries]
    assert len(ids) == len(set(ids)), "entry ids must be unique across the knowledge base"
    for entry in entries:
        assert entry["status"] in ("verified", "unverified"), entry["id"]
        if entry["kind"] == "source":
            continue
        assert entry["sources"], entry["id"]
        for ref in entry["sources"]:
            assert ref["id"] in kb.sources, f"{entry['id']} cites unknown source {ref['id']}"


def test_thresholds_state_their_operator(kb: KnowledgeBase) -> None:
    assert kb.thresholds
    for threshold in kb.thresholds.values():
        assert threshold.operator in (">=", ">", "<", "<="), threshold.id


def test_breast_and_gastric_extent_boundaries_differ(kb: KnowledgeBase) -> None:
    breast = kb.thresholds["asco-cap-2018.breast.ihc.extent"]
    gastric = kb.thresholds["cap-ascp-asco-2016.gea.ihc.extent"]
    assert (breast.operator, breast.value) == (">", 10)
    assert (gastric.operator, gastric.value) == (">=", 10)


def test_unverified_systems_are_not_default(kb: KnowledgeBase) -> None:
    for system in kb.systems.values():
        if system.status == "unverified":
            assert not system.default, system.id
    for family in kb.families:
        assert kb.systems[family.scoring_system].default, family.id


def test_get_and_not_found(kb: KnowledgeBase) -> None:
    assert kb.get("asco-cap-2018.breast.ish.group-3")["kind"] == "rule"
    with pytest.raises(NotFoundError):
        kb.get("no.such.entry")


def test_oncotree_table_agrees_with_official_tree(kb: KnowledgeBase) -> None:
    tree = json.loads(ONCOTREE.read_text(encoding="utf-8"))
    official: dict[str, tuple[str, str | None]] = {}

    def walk(node: dict[str, object]) -> None:
        code = str(node["code"])
        parent = node.get("parent")
        official[code] = (str(node["name"]), None if parent in (None, "TISSUE") else str(parent))
        children = node.get("children") or {}
        assert isinstance(children, dict)
        for child in children.values():
            walk(child)

    walk(tree["TISSUE"])
    assert kb.tumor_release == "oncotree_2025_10_03"
    mismatches = []
    for code, tumor in kb.tumor_types.items():
        if code not in official:
            mismatches.append(f"{code}: not in the official tree")
            continue
        name, parent = official[code]
        if (tumor.name, tumor.parent) != (name, parent):
            mismatches.append(f"{code}: ours {(tumor.name, tumor.parent)} vs official {(name, parent)}")
    assert not mismatches, mismatches
    for code in ("BRCA", "STAD", "GEJ", "ESCA", "COADREAD", "CHOL", "GBC", "NSCLC", "LUSC", "UCEC", "USC",
                 "BLCA", "THYC", "SARCNOS", "SDCA"):
        assert code in kb.tumor_types, code


@pytest.mark.parametrize(
    ("code", "family"),
    [("CHOL", "family.biliary"), ("IHCH", "family.biliary"), ("GBC", "family.biliary"), ("GBAD", "family.biliary"),
     ("BRCA", "family.breast"), ("BREAST", "family.breast"), ("ILC", "family.breast"),
     ("STAD", "family.gastroesophageal"), ("DSTAD", "family.gastroesophageal"), ("GEJ", "family.gastroesophageal"),
     ("ESCA", "family.gastroesophageal"), ("ESCC", "family.other-solid"), ("COAD", "family.colorectal"),
     ("LUSC", "family.nsclc"), ("USC", "family.endometrial"), ("UTUC", "family.urothelial"),
     ("AMPCA", "family.other-solid"), ("THYC", "family.other-solid")],
)
def test_family_walks_up_the_tree(kb: KnowledgeBase, code: str, family: str) -> None:
    resolved = kb.family_for(code)
    assert resolved is not None
    assert resolved.id == family


def test_hematologic_codes_have_no_family(kb: KnowledgeBase) -> None:
    assert kb.family_for("MYELOID") is None
    assert kb.family_for("LYMPH") is None


def _copy_kb(tmp_path: Path, kb: KnowledgeBase) -> Path:
    root = tmp_path / "kb"
    shutil.copytree(kb.root, root)
    return root


def test_loader_rejects_unknown_fields(tmp_path: Path, kb: KnowledgeBase) -> None:
    root = _copy_kb(tmp_path, kb)
    path = root / "families.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["families"][0]["surprise"] = 1
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    with pytest.raises(KnowledgeBaseError, match="surprise"):
        load_knowledge_base(root)


def test_loader_rejects_dangling_source(tmp_path: Path, kb: KnowledgeBase) -> None:
    root = _copy_kb(tmp_path, kb)
    path = root / "variants.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["variants"][0]["sources"] = [{"id": "no-such-source"}]
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    with pytest.raises(KnowledgeBaseError, match="no-such-source"):
        load_knowledge_base(root)


def test_loader_rejects_unsupported_schema_version(tmp_path: Path, kb: KnowledgeBase) -> None:
    root = _copy_kb(tmp_path, kb)
    path = root / "kb.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["schema_version"] = "99"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    with pytest.raises(KnowledgeBaseError, match="schema version"):
        load_knowledge_base(root)


def test_inline_condition_values_must_be_zero(tmp_path: Path, kb: KnowledgeBase) -> None:
    root = _copy_kb(tmp_path, kb)
    path = root / "scoring" / "heracles-crc.yaml"
    text = path.read_text(encoding="utf-8").replace(
        'when: [{measure: pct.any_membrane, operator: ">", value: 0}]',
        'when: [{measure: pct.any_membrane, operator: ">", value: 5}]',
    )
    path.write_text(text, encoding="utf-8")
    with pytest.raises(KnowledgeBaseError, match="threshold entries"):
        load_knowledge_base(root)


def test_every_code_the_engine_can_emit_is_defined(kb: KnowledgeBase) -> None:
    src = Path(__file__).resolve().parents[2] / "src" / "her2cds" / "rules"
    import re

    emitted: set[str] = set()
    for path in src.glob("*.py"):
        text = path.read_text(encoding="utf-8")
        emitted |= set(re.findall(r'(?:recommend|flag)\(\s*"([a-z_0-9]+)"', text))
    assert emitted, "no emitted codes found: the scan is broken"
    assert not emitted - set(kb.codes), sorted(emitted - set(kb.codes))


def test_every_rule_id_the_engine_names_exists(kb: KnowledgeBase) -> None:
    import re

    src = Path(__file__).resolve().parents[2] / "src" / "her2cds"
    named: set[str] = set()
    for path in [*list(src.glob("rules/*.py")), src / "engine.py"]:
        named |= set(re.findall(r'ck\.rule\(\s*"([a-z0-9.\-]+)"', path.read_text(encoding="utf-8")))
    assert named
    assert not named - set(kb.rules), sorted(named - set(kb.rules))


def test_anti_her2_class_used_by_the_advisor_exists(kb: KnowledgeBase) -> None:
    from her2cds.rules.testing import ANTI_HER2_CLASS

    assert kb.therapy is not None
    assert ANTI_HER2_CLASS in kb.therapy.drugs.classes
    assert ANTI_HER2_CLASS in kb.therapy.drugs.resolve(["trastuzumab"]).by_class
