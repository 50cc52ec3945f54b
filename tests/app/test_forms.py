"""The entry form's mapping: a stored case shown in the form and read back is the same case (fields the form
does not show are kept), errors go next to the field they name, in plain words."""

from __future__ import annotations

import copy
from typing import Any

from her2cds import examples
from her2cds.app import forms
from her2cds.errors import FieldProblem


def _normalised(document: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(document)
    history = out.get("history") or {}
    if history.get("prior_agents") == []:
        del history["prior_agents"]
    return out


def test_every_example_roundtrips_through_the_form() -> None:
    for name in examples.names():
        document = examples.load(name)
        state = forms.from_document(document)
        back, errors = forms.parse(state.values)
        assert errors == {}, name
        assert _normalised(back) == _normalised(document), name


def test_fields_the_form_does_not_show_are_kept() -> None:
    document = examples.load(examples.DEFAULT)
    document["specimens"][0]["ish"]["recount"] = {"her2_per_cell": 5.5, "cep17_per_cell": 2.0}
    document["specimens"][1]["reported_status"] = "negative (2010 criteria)"
    state = forms.from_document(document)
    assert "extra" in state.values
    back, _ = forms.parse(state.values)
    assert back["specimens"][0]["ish"]["recount"] == {"her2_per_cell": 5.5, "cep17_per_cell": 2.0}
    assert back["specimens"][1]["reported_status"] == "negative (2010 criteria)"


def test_typed_values_are_converted_or_named_as_errors() -> None:
    values = {"tumor-oncotree_code": "stad", "specimen_count": "1", "specimens-0-id": "B1",
              "specimens-0-procedure": "biopsy", "specimens-0-ish-her2_per_cell": "6,2",
              "specimens-0-ish-cep17_per_cell": "two", "specimens-0-collected_on": "2026-13-01",
              "specimens-0-ihc-score": "4+", "specimens-0-ngs-erbb2_variants": "p.S310F, p.L755S",
              "history-prior_lines": "1.5"}
    document, errors = forms.parse(values)
    assert document["tumor"]["oncotree_code"] == "STAD"
    assert document["specimens"][0]["ish"]["her2_per_cell"] == 6.2
    assert document["specimens"][0]["ngs"]["erbb2_variants"] == ["p.S310F", "p.L755S"]
    assert set(errors) == {"specimens-0-ish-cep17_per_cell", "specimens-0-collected_on", "specimens-0-ihc-score",
                           "history-prior_lines"}
    assert "choose one of: 0, 1+, 2+, 3+" in errors["specimens-0-ihc-score"]
    assert "whole number" in errors["history-prior_lines"]


def test_engine_problems_land_on_the_field_or_its_section() -> None:
    values = {"specimens-0-ish-her2_per_cell": "x", "specimens-0-id": "B1"}
    placed = forms.place_errors([
        FieldProblem("specimens[0].ish.her2_per_cell", "Input should be greater than or equal to 0", -1, True),
        FieldProblem("specimens[0].ish", "dual-probe ISH needs a ratio, or her2_per_cell and cep17_per_cell"),
        FieldProblem("", "a case must be a JSON object"),
    ], values)
    assert placed["specimens-0-ish-her2_per_cell"] == "Must be 0 or more (entered: -1)"
    assert placed["specimens-0-ish"].startswith("Dual-probe ISH needs a ratio, or HER2 signals per cell")
    assert placed["case"] == "A case must be a JSON object"


def test_regimens_follow_the_case_model() -> None:
    values = {"tumor-oncotree_code": "STAD", "specimen_count": "0", "regimen_count": "1",
              "history-regimens-0-agents": "trastuzumab, capecitabine, oxaliplatin",
              "history-regimens-0-setting": "metastatic", "history-regimens-0-line": "1",
              "history-regimens-0-start": "2026-01-05", "history-regimens-0-progressed": "yes"}
    document, errors = forms.parse(values)
    if forms.regimens_supported():
        assert errors == {}
        assert document["history"]["regimens"] == [{
            "agents": ["trastuzumab", "capecitabine", "oxaliplatin"], "setting": "metastatic", "line": 1,
            "start": "2026-01-05", "progressed": True}]
        state = forms.from_document(document)
        assert state.values["history-regimens-0-start"] == "2026-01-05" and state.regimens == 1
    else:  # a case model without history.regimens: the form neither shows nor sends them
        assert "history" not in document and forms.regimen_count(values) == 0
