"""The therapy loader refuses inconsistent knowledge with a KnowledgeBaseError naming the problem."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from her2cds.errors import KnowledgeBaseError
from her2cds.knowledge.loader import KnowledgeBase
from her2cds.therapy import load_therapy_knowledge

Mutate = Callable[[dict[str, Any]], None]


def _copy(kb: KnowledgeBase, tmp_path: Path) -> Path:
    shutil.copytree(kb.root / "therapy", tmp_path / "therapy")
    return tmp_path


def _edit(root: Path, name: str, mutate: Mutate) -> None:
    path = root / "therapy" / name
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    mutate(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")


def _indication(data: dict[str, Any], ind_id: str) -> dict[str, Any]:
    return next(i for i in data["indications"] if i["id"] == ind_id)


def test_the_packaged_therapy_knowledge_loads(kb: KnowledgeBase, tmp_path: Path) -> None:
    tk = load_therapy_knowledge(_copy(kb, tmp_path), kb.sources, kb.tumor_types)
    assert len(tk.indications) >= 28


CASES: list[tuple[str, str, Mutate, str]] = [
    (
        "unknown-source",
        "indications.yaml",
        lambda d: _indication(d, "fda.zanidatamab.biliary-tract")["sources"].append({"id": "no-such-source"}),
        "unknown source 'no-such-source'",
    ),
    (
        "unknown-oncotree-code",
        "indications.yaml",
        lambda d: d["tumor_sets"][0]["include"].append("NOTACODE"),
        "'NOTACODE' is not a known OncoTree code",
    ),
    (
        "unknown-drug",
        "indications.yaml",
        lambda d: _indication(d, "fda.zanidatamab.biliary-tract")["drugs"].append("wonderumab"),
        "unknown drug 'wonderumab' (not in the drug-class table)",
    ),
    (
        "bad-criterion-value",
        "indications.yaml",
        lambda d: _indication(d, "fda.zanidatamab.biliary-tract")["criteria"][0].update({"in": ["4+"]}),
        "cannot be ['4+']",
    ),
    (
        "wrong-criterion-parameter",
        "indications.yaml",
        lambda d: _indication(d, "fda.zanidatamab.biliary-tract")["criteria"][0].update({"op": ">="}),
        "takes 'in' and nothing else",
    ),
    (
        "unknown-class",
        "indications.yaml",
        lambda d: _indication(d, "fda.trastuzumab-deruxtecan.gastric-pretreated")["criteria"][1].update(
            {"classes": ["drug-class.nope"]}
        ),
        "unknown drug class 'drug-class.nope'",
    ),
    (
        "unknown-trial",
        "indications.yaml",
        lambda d: _indication(d, "fda.zanidatamab.biliary-tract")["trials"].append({"id": "trial.nope"}),
        "unknown trial 'trial.nope'",
    ),
    (
        "approved-without-fda-record",
        "indications.yaml",
        lambda d: _indication(d, "fda.zanidatamab.biliary-tract").update({"regulatory": []}),
        "needs its FDA record",
    ),
    (
        "guideline-option-with-fda-record",
        "indications.yaml",
        lambda d: _indication(d, "guideline.trastuzumab-carboplatin-paclitaxel.uterine-serous").update(
            {"regulatory": _indication(d, "fda.zanidatamab.biliary-tract")["regulatory"]}
        ),
        "cannot carry an FDA approval",
    ),
    (
        "duplicate-criterion-id",
        "indications.yaml",
        lambda d: _indication(d, "fda.zanidatamab.biliary-tract")["criteria"].append(
            dict(_indication(d, "fda.zanidatamab.biliary-tract")["criteria"][0])
        ),
        "criterion id 'ihc-3plus' is used twice",
    ),
    (
        "duplicate-drug-name",
        "drugs.yaml",
        lambda d: d["drugs"][0]["aliases"].append("Kadcyla"),
        "is used by both drug.trastuzumab and drug.trastuzumab-emtansine",
    ),
    (
        "trial-arm-unknown-drug",
        "trials.yaml",
        lambda d: d["trials"][0]["arms"][0]["drugs"].append("placebozumab"),
        "unknown drug 'placebozumab'",
    ),
    (
        "extra-field",
        "trials.yaml",
        lambda d: d["trials"][0].update({"surprise": 1}),
        "Extra inputs are not permitted",
    ),
]


@pytest.mark.parametrize(("name", "mutate", "message"), [pytest.param(f, m, msg, id=i) for i, f, m, msg in CASES])
def test_inconsistent_knowledge_is_refused(
    kb: KnowledgeBase, tmp_path: Path, name: str, mutate: Mutate, message: str
) -> None:
    root = _copy(kb, tmp_path)
    _edit(root, name, mutate)
    with pytest.raises(KnowledgeBaseError) as info:
        load_therapy_knowledge(root, kb.sources, kb.tumor_types)
    assert message in str(info.value)


def test_invalid_yaml_is_refused(kb: KnowledgeBase, tmp_path: Path) -> None:
    root = _copy(kb, tmp_path)
    (root / "therapy" / "trials.yaml").write_text("trials: [unclosed\n", encoding="utf-8")
    with pytest.raises(KnowledgeBaseError, match="not valid YAML"):
        load_therapy_knowledge(root, kb.sources, kb.tumor_types)


def test_missing_file_is_refused(kb: KnowledgeBase, tmp_path: Path) -> None:
    root = _copy(kb, tmp_path)
    (root / "therapy" / "drugs.yaml").unlink()
    with pytest.raises(KnowledgeBaseError, match="cannot read"):
        load_therapy_knowledge(root, kb.sources, kb.tumor_types)


def test_missing_sources_are_all_reported(kb: KnowledgeBase, tmp_path: Path) -> None:
    """Without the therapy sources every reference is reported, in one error."""
    root = _copy(kb, tmp_path)
    sources = {k: v for k, v in kb.sources.items() if k != "fda-zanidatamab-btc-2024"}
    with pytest.raises(KnowledgeBaseError) as info:
        load_therapy_knowledge(root, sources, kb.tumor_types)
    assert str(info.value).count("unknown source 'fda-zanidatamab-btc-2024'") >= 3
