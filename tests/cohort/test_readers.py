"""Real-format readers on public files (tests/fixtures/cohort/*/SOURCE.md) and generated edge cases: every
answer equals the per-case engine's answer for the case the file describes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl
import pytest

from her2cds.adapters.cli import main
from her2cds.cohort.report import read_slim
from her2cds.cohort.slim import slim_answer
from her2cds.engine import Engine

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "cohort"


def run(tmp_path: Path, fmt: str, *inputs: Path, mapping: Path | None = None) -> dict[str, dict[str, Any]]:
    out = tmp_path / f"{fmt}.parquet"
    argv = ["cohort", "run", *map(str, inputs), "--format", fmt, "--out", str(out)]
    if mapping is not None:
        argv += ["--mapping", str(mapping)]
    assert main(argv) in (0, 1)
    return {row["id"]: row for row in read_slim(out).iter_rows(named=True)}


def expect(engine: Engine, case: dict[str, Any]) -> dict[str, Any]:
    return slim_answer(engine.assess(case))


def same(row: dict[str, Any], expected: dict[str, Any]) -> None:
    assert {k: row[k] for k in expected} == expected


# -- cBioPortal -------------------------------------------------------------------------------------
def test_cbioportal_study_folder_headers_and_cancer_type(tmp_path: Path, engine: Engine) -> None:
    """cBioPortal's own test study: four '#' metadata lines, patients joined to samples, the cancer type from
    meta_study.txt, a copy-number matrix and a MAF without ERBB2 (so ERBB2 stays unknown, not 'not amplified')."""
    rows = run(tmp_path, "cbioportal", FIXTURES / "cbioportal" / "study_oncokb_update")
    assert list(rows) == ["TCGA-A1-A0SB"]
    row = rows["TCGA-A1-A0SB"]
    assert row["tumor"] == "BRCA" and row["error"] is None
    same(row, expect(engine, {"id": "x", "tumor": {"oncotree_code": "BRCA"}}))
    assert row["erbb2_amplified"] is None and row["her2_status"] == "indeterminate"


def test_cbioportal_erbb2_amplification_from_the_cna_matrix(tmp_path: Path, engine: Engine) -> None:
    """The OncoKB annotator's public example files arranged as a study: ERBB2 = 2 is amplification, 1 is gain."""
    rows = run(tmp_path, "cbioportal", FIXTURES / "cbioportal" / "oncokb_examples")
    luad = rows["TCGA-05-4417-01"]
    assert luad["tumor"] == "LUAD" and luad["erbb2_amplified"] is True
    same(luad, expect(engine, {"tumor": {"oncotree_code": "LUAD"}, "specimens": [
        {"id": "s", "procedure": "resection", "ngs": {"erbb2_cn_call": "amplification"}}]}))
    gain = rows["TCGA-02-0033-01"]  # a hematologic tumor type: an error row naming the code
    assert gain["error"] is not None and "BLLETV6RUNX1" in gain["error"]
    assert rows["TCGA-AG-A002-01"]["error"] is None  # READ without ERBB2 data: answered, nothing invented
    assert rows["TCGA-AG-A002-01"]["erbb2_amplified"] is None
    assert len(rows) == 9  # every clinical sample


# -- OncoKB annotator -----------------------------------------------------------------------------------
def test_oncokb_clinical_cna_and_annotated_maf(tmp_path: Path, engine: Engine) -> None:
    o = FIXTURES / "oncokb"
    rows = run(tmp_path, "oncokb", o / "example_clinical.txt", o / "example_individual_cna.txt",
               o / "example_maf_annotated.txt")
    luad = rows["TCGA-05-4417-01"]
    # the annotated MAF calls KRAS G12C oncogenic: RAS mutant; ERBB2 amplified by the individual CNA file
    same(luad, expect(engine, {"tumor": {"oncotree_code": "LUAD"}, "biomarkers": {"kras": "mutant"}, "specimens": [
        {"id": "s", "procedure": "resection", "ngs": {"erbb2_cn_call": "amplification"}}]}))
    assert luad["erbb2_amplified"] is True


def test_oncokb_needs_the_clinical_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["cohort", "run", str(FIXTURES / "oncokb" / "example_cna.txt"), "--format", "oncokb",
                 "--out", str(tmp_path / "o.csv")])
    assert code == 2 and "clinical file" in capsys.readouterr().err


# -- TCGA biotab ----------------------------------------------------------------------------------------
def test_tcga_biotab_three_header_rows_and_not_available_codes(tmp_path: Path, engine: Engine) -> None:
    path = FIXTURES / "tcga-biotab" / "nationwidechildrens.org_clinical_patient_brca.txt"
    rows = run(tmp_path, "tcga-biotab", path)
    raw = pl.read_csv(path, separator="\t", infer_schema=False, quote_char=None, skip_rows_after_header=2)
    assert len(rows) == raw.height  # the two CDE rows are not patients; every patient has a row
    na = ("[Not Available]", "[Not Evaluated]", "[Unknown]")
    checked = 0
    for rec in raw.iter_rows(named=True):
        specimen: dict[str, Any] = {"id": "s", "procedure": "resection"}
        words = {"Positive": "positive", "Negative": "negative", "Equivocal": "equivocal"}
        ish_words = {"Positive": "amplified", "Negative": "not_amplified", "Equivocal": "equivocal"}
        ihc: dict[str, Any] = {}
        if rec["her2_ihc_score"] not in na:
            ihc["score"] = rec["her2_ihc_score"]
        if rec["her2_status_by_ihc"] in words:
            ihc["result"] = words[rec["her2_status_by_ihc"]]
        if ihc:
            specimen["ihc"] = ihc
        ish: dict[str, Any] = {k: float(rec[c]) for k, c in (
            ("ratio", "her2_cent17_ratio"), ("her2_per_cell", "her2_copy_number"),
            ("cep17_per_cell", "cent17_copy_number")) if rec[c] not in na}
        if rec["her2_fish_status"] in ish_words:
            ish["result"] = ish_words[rec["her2_fish_status"]]
        if ish:
            specimen["ish"] = ish
        stage = rec["ajcc_pathologic_tumor_stage"]
        setting = None if stage in na or stage == "Stage X" else (
            "metastatic" if stage.startswith("Stage IV") else
            "locally_advanced" if stage.startswith("Stage III") else "early")
        tumor = {"oncotree_code": "BRCA", **({"setting": setting} if setting else {})}
        case = {"tumor": tumor, "specimens": [specimen] if len(specimen) > 2 else []}
        try:
            expected = expect(engine, case)
        except Exception:  # the file's values the case model rejects: the cohort row must carry an error
            assert rows[rec["bcr_patient_barcode"]]["error"] is not None
            continue
        same(rows[rec["bcr_patient_barcode"]], expected)
        checked += 1
    assert checked >= 40


# -- NAACCR ---------------------------------------------------------------------------------------------
def test_naaccr_xml_structure_from_the_naaccr_xml_library(tmp_path: Path) -> None:
    rows = run(tmp_path, "naaccr", FIXTURES / "naaccr" / "standard-file.xml")
    # patient 1: one tumor at C12.3 (not in the crosswalk: an error naming the site); patient 2: no tumor record
    assert set(rows) == {"00000001#1", "00000002#1"}
    assert "C123" in rows["00000001#1"]["error"]
    assert rows["00000002#1"]["error"] is not None


def test_naaccr_special_codes_are_bounds_and_words_never_numbers(tmp_path: Path, engine: Engine) -> None:
    rows = run(tmp_path, "naaccr", FIXTURES / "naaccr" / "her2-ssdi-cases.xml")
    breast = {"oncotree_code": "BREAST"}
    same(rows["00000001#1"], expect(engine, {"tumor": breast, "specimens": [
        {"id": "s", "procedure": "resection", "reported_status": "positive", "ihc": {"score": "3+"}}]}))
    same(rows["00000002#1"], expect(engine, {"tumor": breast, "specimens": [
        {"id": "s", "procedure": "resection", "reported_status": "positive", "ihc": {"score": "2+"},
         "ish": {"her2_per_cell": 6.2, "ratio": 2.5, "result": "amplified"}}]}))
    # XX.1 (copies >= 100) and XX.3 (ratio >= 2.0) are bounds: never numbers
    same(rows["00000003#1"], expect(engine, {"tumor": breast, "specimens": [
        {"id": "s", "procedure": "resection", "reported_status": "positive", "ihc": {"score": "2+"},
         "ish": {"her2_per_cell": ">=100", "ratio": ">=2.0", "result": "amplified"}}]}))
    # code 4 (negative, score not stated) is a word, XX.2 a bound; a second primary is its own case
    same(rows["00000004#1"], expect(engine, {"tumor": breast, "specimens": [
        {"id": "s", "procedure": "resection", "reported_status": "negative or equivocal",
         "ihc": {"result": "negative"}, "ish": {"ratio": "<2.0", "result": "not_amplified"}}]}))
    same(rows["00000004#2"], expect(engine, {"tumor": {"oncotree_code": "STOMACH"}, "specimens": [
        {"id": "s", "procedure": "resection", "reported_status": "negative or equivocal", "ihc": {"score": "1+"}}]}))
    # 7/8/9 and XX.7/XX.8/XX.9: not known, never numbers; the answer is indeterminate with needs
    unknown = rows["00000005#1"]
    assert unknown["error"] is None and unknown["her2_status"] == "indeterminate" and unknown["needs"] is not None
    same(unknown, expect(engine, {"tumor": breast}))
    single = {"probe": "single", "her2_per_cell": 7.1}
    same(rows["00000006#1"], expect(engine, {"tumor": breast, "specimens": [
        {"id": "s", "procedure": "resection", "ihc": {"score": "0"}, "ish": single}]}))
    assert "C809" in rows["00000007#1"]["error"]  # unknown primary site: named, not guessed
    same(rows["00000008#1"], expect(engine, {"tumor": breast, "specimens": [  # blank 3850: optional, not unknown
        {"id": "s", "procedure": "resection", "ish": {"her2_per_cell": 2.9, "ratio": 1.4}}]}))


def test_naaccr_flat_export_by_item_number(tmp_path: Path, engine: Engine) -> None:
    rows = run(tmp_path, "naaccr", FIXTURES / "naaccr" / "her2-ssdi-flat.csv")
    assert set(rows) == {"00000101#1", "00000102#1", "00000103#1", "00000104#1"}
    same(rows["00000103#1"], expect(engine, {"tumor": {"oncotree_code": "STOMACH"}, "specimens": [
        {"id": "s", "procedure": "resection", "reported_status": "negative or equivocal", "ihc": {"score": "1+"}}]}))
    same(rows["00000104#1"], expect(engine, {"tumor": {"oncotree_code": "BREAST"}, "specimens": [
        {"id": "s", "procedure": "resection", "reported_status": "negative or equivocal", "ihc": {"score": "2+"},
         "ish": {"her2_per_cell": 4.1, "ratio": 1.5, "result": "not_amplified"}}]}))
