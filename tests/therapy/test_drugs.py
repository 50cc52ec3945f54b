"""The drug → class table: every drug named in the knowledge base resolves; names, regimens and suffixes."""

from __future__ import annotations

import pytest

from her2cds.knowledge.drugs import compact
from her2cds.therapy import TherapyKnowledge


def test_every_drug_in_the_knowledge_base_resolves(tk: TherapyKnowledge) -> None:
    named: set[str] = set()
    for ind in tk.indications:
        named.update(ind.entry.drugs)
    for trial in tk.trials.values():
        for arm in trial.arms:
            named.update(arm.drugs)
    for regimen in tk.drugs.regimens.values():
        named.update(regimen.drugs)
    assert len(named) > 20
    unresolved = sorted(n for n in named if not tk.drugs.has_inn(n) or tk.drugs.lookup(n) is None)
    assert not unresolved, unresolved


def test_every_class_in_the_knowledge_base_exists(tk: TherapyKnowledge) -> None:
    from her2cds.knowledge.therapy import all_criteria

    used = {c for ind in tk.indications for crit in all_criteria(ind.entry) for c in crit.classes or ()}
    used |= {c for r in tk.drugs.regimens.values() for c in r.classes}
    assert "drug-class.trastuzumab" in used
    assert all(tk.drugs.has_class(c) for c in used)


def test_inns_are_lowercase_and_every_drug_has_a_systemic_or_modulator_class(tk: TherapyKnowledge) -> None:
    for inn, drug in tk.drugs.drugs.items():
        assert inn == inn.lower() == drug.inn
        classes = tk.drugs.classes_of(inn)
        assert "drug-class.systemic-therapy" in classes or "drug-class.chemotherapy-modulator" in classes, inn


@pytest.mark.parametrize(
    ("name", "classes"),
    [
        pytest.param(
            "FOLFOX", {"drug-class.fluoropyrimidine", "drug-class.oxaliplatin", "drug-class.platinum"}, id="folfox"
        ),
        pytest.param("mFOLFOX6", {"drug-class.fluoropyrimidine", "drug-class.oxaliplatin"}, id="mfolfox6"),
        pytest.param("XELOX", {"drug-class.fluoropyrimidine", "drug-class.oxaliplatin"}, id="xelox"),
        pytest.param("capeox", {"drug-class.fluoropyrimidine", "drug-class.oxaliplatin"}, id="capeox"),
        pytest.param("FOLFIRI", {"drug-class.fluoropyrimidine", "drug-class.irinotecan"}, id="folfiri"),
        pytest.param("FLOT", {"drug-class.fluoropyrimidine", "drug-class.oxaliplatin", "drug-class.taxane"}, id="flot"),
        pytest.param("THP", {"drug-class.taxane", "drug-class.trastuzumab", "drug-class.her2-antibody"}, id="thp"),
        pytest.param("TCHP", {"drug-class.taxane", "drug-class.platinum", "drug-class.trastuzumab"}, id="tchp"),
        pytest.param("AC", {"drug-class.anthracycline", "drug-class.chemotherapy"}, id="ac"),
        pytest.param("AC-T", {"drug-class.anthracycline", "drug-class.taxane"}, id="ac-t"),
        pytest.param("T-DXd", {"drug-class.her2-adc", "drug-class.anti-her2"}, id="t-dxd"),
        pytest.param("Enhertu", {"drug-class.her2-adc"}, id="brand"),
        pytest.param("ado-trastuzumab emtansine", {"drug-class.her2-adc"}, id="usan"),
        pytest.param("fam-trastuzumab deruxtecan-nxki", {"drug-class.her2-adc"}, id="usan-with-suffix"),
        pytest.param("trastuzumab-anns", {"drug-class.trastuzumab"}, id="biosimilar-suffix"),
        pytest.param("zanidatamab-hrii", {"drug-class.her2-antibody"}, id="zanidatamab-suffix"),
        pytest.param("  Herceptin ", {"drug-class.trastuzumab"}, id="whitespace-and-case"),
        pytest.param("letrozole", {"drug-class.endocrine-therapy"}, id="letrozole"),
    ],
)
def test_names_resolve_to_classes(tk: TherapyKnowledge, name: str, classes: set[str]) -> None:
    thing = tk.drugs.lookup(name)
    assert thing is not None, name
    assert classes <= thing.classes, sorted(thing.classes)
    assert "drug-class.systemic-therapy" in thing.classes


def test_trastuzumab_antibody_drug_conjugates_are_not_a_trastuzumab_based_regimen(tk: TherapyKnowledge) -> None:
    for name in ("T-DM1", "T-DXd"):
        thing = tk.drugs.lookup(name)
        assert thing is not None
        assert "drug-class.trastuzumab" not in thing.classes
        assert "drug-class.anti-her2" in thing.classes


def test_leucovorin_alone_is_not_systemic_anticancer_therapy(tk: TherapyKnowledge) -> None:
    thing = tk.drugs.lookup("leucovorin")
    assert thing is not None
    assert "drug-class.systemic-therapy" not in thing.classes


def test_combined_entries_are_split_and_unknown_parts_reported(tk: TherapyKnowledge) -> None:
    res = tk.drugs.resolve(["FOLFOX + bevacizumab", "carboplatin/paclitaxel", "XY-123 plus trastuzumab", "mystery"])
    assert res.agents_in(["drug-class.anti-vegf"]) == ("FOLFOX + bevacizumab",)
    assert res.agents_in(["drug-class.taxane"]) == ("carboplatin/paclitaxel",)
    assert res.agents_in(["drug-class.trastuzumab"]) == ("XY-123 plus trastuzumab",)
    assert res.unrecognised == ("XY-123", "mystery")
    assert "mystery" not in res.recognised


def test_regimen_names_are_not_split(tk: TherapyKnowledge) -> None:
    res = tk.drugs.resolve(["AC-T"])
    assert res.unrecognised == ()
    assert res.agents_in(["drug-class.taxane"]) == ("AC-T",)


def test_compact_key_ignores_case_and_punctuation() -> None:
    assert compact("T-DXd") == compact("t dxd") == compact("TDXD") == "tdxd"
    assert compact("5-FU") == "5fu"


def test_names_are_unique_across_drugs_and_regimens(tk: TherapyKnowledge) -> None:
    names = tk.drugs.names()
    assert len(names) > 150
    # each key points to exactly one drug or regimen (the loader refuses duplicates); spot-check a few
    assert names["folfox"] == "regimen.folfox"
    assert names["trastuzumab"] == "drug.trastuzumab"
