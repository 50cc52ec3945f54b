"""NAACCR fixed-width (flat) files, version 18: generated records, the same answers as NAACCR XML, and refusals.

The writer below uses its own transcription of the version 18 positions (WerthPADOH/naaccr,
data-raw/record-formats/version-18.csv, start_col/end_col), independent of the reader's layout file
(src/her2cds/cohort/data/naaccr_flat_v18.yaml, from NAACCR's naaccr-dictionary-180.xml): a wrong position in
either makes these tests fail."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from her2cds.adapters.cli import main
from her2cds.cohort.readers.naaccr import read_xml
from her2cds.engine import Engine
from tests.cohort.test_readers import FIXTURES, expect, run, same

# item: (start column, end column), 1-based inclusive, as in version-18.csv
V18 = {
    "recordType": (1, 1), "naaccrRecordVersion": (17, 19), "tumorRecordNumber": (40, 41),
    "patientIdNumber": (42, 49), "primarySite": (554, 557), "histologicTypeIcdO3": (564, 567),
    "her2OverallSummary": (1744, 1744), "her2IhcSummary": (1757, 1757), "her2IshDualProbeCopyNumber": (1758, 1761),
    "her2IshDualProbeRatio": (1762, 1765), "her2IshSingleProbeCopyNumber": (1766, 1769), "her2IshSummary": (1770, 1770),
}
LENGTH = {"A": 24194, "M": 24194, "C": 6154, "I": 4048}


def record(items: dict[str, str], rtype: str = "I", version: str = "180", length: int | None = None) -> str:
    line = [" "] * (length or LENGTH[rtype])
    for name, value in {"recordType": rtype, "naaccrRecordVersion": version, **items}.items():
        start, end = V18[name]
        width = end - start + 1
        text = value.rjust(width) if name.startswith("her2Ish") and "Summary" not in name else value.ljust(width)
        assert len(text) == width, (name, value)
        line[start - 1:end] = list(text)
    return "".join(line)


def write(path: Path, lines: list[str]) -> Path:
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode("latin-1"))
    return path


def test_fixed_width_equals_the_naaccr_xml_reading(tmp_path: Path) -> None:
    """Every tumor of the XML edge-case file, written as version 18 records (type I and A), reads the same."""
    tumors: list[dict[str, Any]] = read_xml(FIXTURES / "naaccr" / "her2-ssdi-cases.xml").to_dicts()
    keep = set(V18) - {"recordType", "naaccrRecordVersion"}
    lines = [record({k: v for k, v in t.items() if k in keep and v}, rtype="I" if i % 2 else "A")
             for i, t in enumerate(tumors)]
    flat_dir = tmp_path / "flat"
    flat_dir.mkdir()
    flat = run(flat_dir, "naaccr", write(tmp_path / "cases.txt", lines))
    xml = run(tmp_path, "naaccr", FIXTURES / "naaccr" / "her2-ssdi-cases.xml")
    assert set(flat) == set(xml) and len(flat) >= 9
    for key, row in xml.items():
        assert {k: v for k, v in flat[key].items() if k != "error"} == {k: v for k, v in row.items() if k != "error"}
        assert (flat[key]["error"] is None) == (row["error"] is None)


def test_fixed_width_special_codes(tmp_path: Path, engine: Engine) -> None:
    """Blank-padded numbers, bounds (XX.1, XX.2, XX.3), not-known codes (7/8/9, XX.7-XX.9) and code 4."""
    lines = [
        record({"patientIdNumber": "00000011", "primarySite": "C504", "her2IhcSummary": "2",
                "her2IshDualProbeCopyNumber": "6.2", "her2IshDualProbeRatio": "2.5", "her2IshSummary": "3"}),
        record({"patientIdNumber": "00000012", "primarySite": "C504", "her2IhcSummary": "2",
                "her2IshDualProbeCopyNumber": "XX.1", "her2IshDualProbeRatio": "XX.3"}),
        record({"patientIdNumber": "00000013", "primarySite": "C509", "her2IhcSummary": "4",
                "her2IshDualProbeRatio": "XX.2", "her2IshSummary": "0", "her2OverallSummary": "0"}),
        record({"patientIdNumber": "00000014", "primarySite": "C501", "her2IhcSummary": "9",
                "her2IshDualProbeCopyNumber": "XX.9", "her2IshDualProbeRatio": "XX.7",
                "her2IshSingleProbeCopyNumber": "XX.8", "her2IshSummary": "7", "her2OverallSummary": "9"}),
        record({"patientIdNumber": "00000015", "primarySite": "C504", "her2IhcSummary": "0",
                "her2IshSingleProbeCopyNumber": "7.1"}),
    ]
    rows = run(tmp_path, "naaccr", write(tmp_path / "codes.dat", lines))
    breast = {"oncotree_code": "BREAST"}
    same(rows["00000011#1"], expect(engine, {"tumor": breast, "specimens": [{"id": "s", "procedure": "resection",
         "ihc": {"score": "2+"}, "ish": {"her2_per_cell": 6.2, "ratio": 2.5, "result": "amplified"}}]}))
    same(rows["00000012#1"], expect(engine, {"tumor": breast, "specimens": [{"id": "s", "procedure": "resection",
         "ihc": {"score": "2+"}, "ish": {"her2_per_cell": ">=100", "ratio": ">=2.0"}}]}))
    same(rows["00000013#1"], expect(engine, {"tumor": breast, "specimens": [{"id": "s", "procedure": "resection",
         "reported_status": "negative or equivocal", "ihc": {"result": "negative"},
         "ish": {"ratio": "<2.0", "result": "not_amplified"}}]}))
    unknown = rows["00000014#1"]
    assert unknown["her2_status"] == "indeterminate" and unknown["error"] is None
    same(unknown, expect(engine, {"tumor": breast}))
    same(rows["00000015#1"], expect(engine, {"tumor": breast, "specimens": [{"id": "s", "procedure": "resection",
         "ihc": {"score": "0"}, "ish": {"probe": "single", "her2_per_cell": 7.1}}]}))


def test_a_bad_line_is_an_error_row_and_the_others_are_read(tmp_path: Path) -> None:
    good = record({"patientIdNumber": "00000021", "primarySite": "C504", "her2IhcSummary": "3"})
    short = good[:-10]
    other = record({"patientIdNumber": "00000023", "primarySite": "C504", "her2IhcSummary": "3"}, version="160")
    rows = run(tmp_path, "naaccr", write(tmp_path / "mixed.txt", [good, short, "", other]))
    assert rows["00000021#1"]["her2_status"] == "positive" and rows["00000021#1"]["error"] is None
    errors = sorted(r["error"] for r in rows.values() if r["error"])
    assert len(rows) == 3 and len(errors) == 2  # every record line answered; the blank line holds no record
    assert "line 2: 4038 characters" in errors[0] and "4048" in errors[0]
    assert "line 4: NAACCR record version '160'" in errors[1]


@pytest.mark.parametrize(("version", "length", "rtype"), [("160", 22824, "A"), ("210", 4048, "I"),
                                                          ("180", 4000, "I"), ("   ", 4048, "I")])
def test_unknown_version_or_length_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str], version: str,
                                              length: int, rtype: str) -> None:
    line = record({"patientIdNumber": "00000031", "primarySite": "C504"}, rtype=rtype, version=version,
                  length=length)
    path = write(tmp_path / "old.txt", [line])
    code = main(["cohort", "run", str(path), "--format", "naaccr", "--out", str(tmp_path / "o.csv")])
    err = capsys.readouterr().err
    assert code == 2
    assert f"{length} characters" in err and "version 18 (180)" in err and "NAACCR XML" in err
    assert (repr(version.strip()) if version.strip() else "'(blank)'") in err
