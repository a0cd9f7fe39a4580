"""Open-i parser, locator and fetch step, on small XML written here and on the real corpus."""
from __future__ import annotations

import gzip
import hashlib
import tarfile
import zipfile
from pathlib import Path

import pytest

from engine.errors import ReportError
from training import fetch_openi
from training.__main__ import STEP_MODULES, main
from engine.reports.openi import normalise_image_id, parse_report_xml, read_reports, read_view_positions
from training.openi import find_openi_dir


def _report_xml(uid: str, sections: dict[str, str], major=("normal",), automatic=(), images=()) -> bytes:
    texts = "".join(f'<AbstractText Label="{k}">{v}</AbstractText>' for k, v in sections.items())
    mesh = "".join(f"<major>{m}</major>" for m in major) + "".join(f"<automatic>{a}</automatic>" for a in automatic)
    parents = "".join(f'<parentImage id="{i}"><caption>x</caption></parentImage>' for i in images)
    return (f'<?xml version="1.0" encoding="utf-8"?><eCitation><uId id="{uid}"/><MedlineCitation><Article>'
            f"<Abstract>{texts}</Abstract></Article></MedlineCitation><MeSH>{mesh}</MeSH>{parents}"
            "</eCitation>").encode()


GOOD = _report_xml(
    "CXR7",
    {"COMPARISON": "None.", "INDICATION": "Cough  and\n fever", "FINDINGS": "Small left effusion.",
     "IMPRESSION": "Effusion."},
    major=("Pleural Effusion/left/small", "Cardiomegaly/mild"),
    automatic=("Atelectasis",),
    images=("CXR7_IM-0001-1001", "CXR7_1_IM-0001-2001"),
)


def _write_metadata(path: Path) -> Path:
    with gzip.open(path, "wt", newline="") as handle:
        handle.write("imageid,Rows,View Position\n")
        handle.write("CXR7_IM-0001-1001,2048,PA\n")
        handle.write('CXR7_IM-0001-2001,2048,""\n')
    return path


def test_parse_all_fields_and_normalise_ids():
    record = parse_report_xml(GOOD, "7.xml", {"CXR7_IM-0001-1001": "PA"})
    assert record.id == "CXR7"
    assert record.comparison == "None."
    assert record.indication == "Cough and fever"  # whitespace normalised
    assert record.findings == "Small left effusion."
    assert record.impression == "Effusion."
    assert record.mesh_major == ("Pleural Effusion/left/small", "Cardiomegaly/mild")
    assert record.mesh_automatic == ("Atelectasis",)
    assert record.image_ids == ("CXR7_IM-0001-1001", "CXR7_IM-0001-2001")
    assert record.view_positions == {"CXR7_IM-0001-1001": "PA"}


def test_missing_sections_are_empty_strings():
    record = parse_report_xml(_report_xml("CXR8", {"INDICATION": "Pain"}), "8.xml")
    assert (record.findings, record.impression, record.comparison) == ("", "", "")
    assert record.indication == "Pain"


def test_malformed_and_foreign_xml_raise_report_error_naming_file():
    with pytest.raises(ReportError, match="bad.xml.*malformed XML"):
        parse_report_xml(b"<eCitation><uId id='x'>", "bad.xml")
    with pytest.raises(ReportError, match="not an Open-i report"):
        parse_report_xml(b"<html/>", "page.xml")


def test_folder_with_one_broken_file_parses_the_rest(tmp_path):
    (tmp_path / "10.xml").write_bytes(GOOD)
    (tmp_path / "2.xml").write_bytes(_report_xml("CXR2", {"FINDINGS": "Clear."}))
    (tmp_path / "3.xml").write_bytes(b"<eCitation><oops></eCitation>")
    _write_metadata(tmp_path / "nlmcxr_dicom_metadata.csv.gz")
    records, errors = read_reports(tmp_path)
    assert [r.id for r in records] == ["CXR2", "CXR7"]  # natural order: 2 before 10
    assert len(errors) == 1 and "3.xml" in str(errors[0])
    assert records[1].view_positions == {"CXR7_IM-0001-1001": "PA"}  # empty view left out


def test_tgz_and_single_file(tmp_path):
    archive = tmp_path / "reports.tgz"
    src = tmp_path / "src"
    (src / "ecgen-radiology").mkdir(parents=True)
    (src / "ecgen-radiology" / "1.xml").write_bytes(GOOD)
    (src / "ecgen-radiology" / "notes.txt").write_text("ignored")
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(src / "ecgen-radiology", arcname="ecgen-radiology")
    records, errors = read_reports(archive)
    assert [r.id for r in records] == ["CXR7"] and not errors
    assert records[0].source.endswith("ecgen-radiology/1.xml")
    single, _ = read_reports(src / "ecgen-radiology" / "1.xml")
    assert single[0] == records[0].__class__(**{**records[0].__dict__, "source": single[0].source})


def test_missing_path_and_damaged_archive(tmp_path):
    with pytest.raises(ReportError, match="no such file"):
        read_reports(tmp_path / "absent.tgz")
    broken = tmp_path / "broken.tgz"
    broken.write_bytes(b"not a tar")
    with pytest.raises(ReportError, match="cannot read archive"):
        read_reports(broken)


def test_view_table(tmp_path):
    views = read_view_positions(_write_metadata(tmp_path / "m.csv.gz"))
    assert views == {"CXR7_IM-0001-1001": "PA"}
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n")
    with pytest.raises(ReportError, match="lacks columns"):
        read_view_positions(bad)
    assert normalise_image_id("CXR1_1_IM-0001-3001") == "CXR1_IM-0001-3001"
    assert normalise_image_id("CXR207_IM-0703-1001") == "CXR207_IM-0703-1001"


def test_locator_prefers_env(tmp_path, monkeypatch):
    (tmp_path / "NLMCXR_reports.tgz").write_bytes(b"")
    monkeypatch.setenv("CXR_LENS_OPENI", str(tmp_path))
    assert find_openi_dir() == tmp_path


def test_fetch_from_wheel_and_folder(tmp_path, monkeypatch):
    payload = b"fake reports"
    monkeypatch.setitem(fetch_openi.MD5, "NLMCXR_reports.tgz", hashlib.md5(payload).hexdigest())
    wheel = tmp_path / "torchxrayvision-1.5.7-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("torchxrayvision/data/NLMCXR_reports.tgz", payload)
        archive.writestr("torchxrayvision/models.py", "")
    written = fetch_openi.fetch_openi(tmp_path / "dest", source=wheel)
    assert [p.name for p in written] == ["NLMCXR_reports.tgz"]
    assert (tmp_path / "dest" / "NLMCXR_reports.tgz").read_bytes() == payload
    # from a folder, through the step dispatcher; a wrong checksum is refused with exit code 2
    (tmp_path / "dest" / "NLMCXR_reports.tgz").write_bytes(b"tampered")
    assert main(["fetch-openi", "--from", str(tmp_path / "dest"), "--dest", str(tmp_path / "d2")]) == 2
    assert main(["fetch-openi", "--from", str(tmp_path / "dest"), "--dest", str(tmp_path / "d3"),
                 "--no-verify"]) == 0
    assert (tmp_path / "d3" / "NLMCXR_reports.tgz").read_bytes() == b"tampered"


def test_step_table_names_modules():
    assert STEP_MODULES["fetch-openi"] == "training.fetch_openi"
    assert main([]) == 1


def _corpus_dir() -> Path:
    try:
        return find_openi_dir()
    except ReportError:
        pytest.skip("Open-i reports not available (python -m training fetch-openi)")


def test_real_corpus_parses_completely():
    folder = _corpus_dir()
    records, errors = read_reports(folder / "NLMCXR_reports.tgz")
    assert len(records) == 3955 and not errors
    assert len({r.id for r in records}) == 3955
    assert sum(1 for r in records if not r.findings and not r.impression) == 28
    assert sum(len(r.image_ids) for r in records) == 7470
    assert all(i.startswith(r.id + "_IM-") for r in records for i in r.image_ids)
    views = {v for r in records for v in r.view_positions.values()}
    assert {"PA", "AP", "LL"} <= views
    assert sum(1 for r in records if r.mesh_major == ("normal",)) > 1000
