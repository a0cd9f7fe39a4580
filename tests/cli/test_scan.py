"""`cxr-lens scan`: every image gets a result line, bad files an error line, resume skips work."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from cxr_lens.cli import main


@pytest.fixture()
def scan_folder_input(tmp_path, rg1_path, pydicom_data_dir):
    folder = tmp_path / "in"
    (folder / "chest").mkdir(parents=True)
    shutil.copy(rg1_path, folder / "chest" / "rg1.dcm")
    (folder / "chest" / "report.txt").write_text("FINDINGS: Small left pleural effusion.")
    shutil.copy(pydicom_data_dir / "MR2_UNCR.dcm", folder / "mr.dcm")
    (folder / "broken.dcm").write_text("not dicom")
    return folder


def _lines(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_scan_records_results_and_failures_and_goes_on(scan_folder_input, tmp_path, tiny_pack_dir):
    out = tmp_path / "out"
    code = main(["scan", str(scan_folder_input), "--out", str(out), "--pack", str(tiny_pack_dir)])
    assert code == 3  # one file failed, the others were scanned
    results = {r["path"].split("/")[-1]: r for r in _lines(out / "results.jsonl")}
    assert set(results) == {"rg1.dcm", "mr.dcm"}
    assert results["rg1.dcm"]["with_report"] is True and results["rg1.dcm"]["mode"] in ("joint", "text")
    assert results["mr.dcm"]["gate"]["status"] != "ok"  # an MR is not a chest radiograph
    errors = _lines(out / "errors.jsonl")
    assert [e["path"].split("/")[-1] for e in errors] == ["broken.dcm"] and "not a DICOM" in errors[0]["error"]
    summary = (out / "summary.csv").read_text().splitlines()
    assert summary[0].startswith("path,mode,gate_status") and len(summary) == 3


def test_resume_skips_done_images_and_redoes_a_cut_line(scan_folder_input, tmp_path, tiny_pack_dir):
    out = tmp_path / "out"
    main(["scan", str(scan_folder_input), "--out", str(out), "--pack", str(tiny_pack_dir), "--no-reports"])
    lines = (out / "results.jsonl").read_text().splitlines()
    # simulate a kill while the second line was being written
    (out / "results.jsonl").write_text(lines[0] + "\n" + lines[1][: len(lines[1]) // 2])
    main(["scan", str(scan_folder_input), "--out", str(out), "--pack", str(tiny_pack_dir), "--resume",
          "--no-reports"])
    paths = [r["path"] for r in (json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()
                                 if line.endswith("}"))]
    assert sorted(paths) == sorted({json.loads(lines[0])["path"], json.loads(lines[1])["path"]})


def test_scan_with_a_tampered_pack_stops_before_work(scan_folder_input, tmp_path, tiny_pack_copy, capsys):
    weights = tiny_pack_copy / "weights.safetensors"
    weights.write_bytes(weights.read_bytes()[:-10])
    code = main(["scan", str(scan_folder_input), "--out", str(tmp_path / "out"), "--pack", str(tiny_pack_copy)])
    assert code == 2
    assert "weights.safetensors" in capsys.readouterr().err


def test_two_workers_scan_every_image_without_hanging(scan_folder_input, tmp_path, tiny_pack_dir):
    # the parent runs torch (pack selftest) before the pool starts: forked workers deadlocked here
    out = tmp_path / "out"
    done = subprocess.run([sys.executable, "-m", "cxr_lens.cli", "scan", str(scan_folder_input), "--out", str(out),
                           "--pack", str(tiny_pack_dir), "--workers", "2"], capture_output=True, text=True,
                          timeout=240)
    assert done.returncode == 3, done.stderr  # broken.dcm failed, the two images were scanned
    paths = sorted(r["path"].split("/")[-1] for r in _lines(out / "results.jsonl"))
    assert paths == ["mr.dcm", "rg1.dcm"]
    assert len((out / "summary.csv").read_text().splitlines()) == 3


def test_resume_of_a_finished_scan_says_all_were_done(scan_folder_input, tmp_path, tiny_pack_dir, capsys):
    (scan_folder_input / "broken.dcm").unlink()
    out = tmp_path / "out"
    argv = ["scan", str(scan_folder_input), "--out", str(out), "--pack", str(tiny_pack_dir), "--no-reports"]
    assert main(argv) == 0
    before = (out / "results.jsonl").read_text()
    capsys.readouterr()
    assert main([*argv, "--resume"]) == 0
    err = capsys.readouterr().err
    assert "2 of 2 already done" in err and "no images found" not in err
    assert (out / "results.jsonl").read_text() == before


def test_progress_is_one_live_line_on_a_terminal_and_sparse_plain_lines_otherwise(
        scan_folder_input, tmp_path, tiny_pack_dir):
    import io

    from cxr_lens.commands.scan import ProgressLine, report_progress
    from engine.scan import scan_folder

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    streams = {"tty": Terminal(), "pipe": io.StringIO()}
    for name, stream in streams.items():
        last = report_progress(scan_folder(scan_folder_input, tmp_path / name, tiny_pack_dir),
                               ProgressLine(stream, every_s=3600))
        assert (last.done, last.total, last.failed) == (3, 3, 1)
    tty, pipe = streams["tty"].getvalue(), streams["pipe"].getvalue()
    assert tty.count("\r") == 3 and "[3/3 100%]" in tty and "images/s, ETA" in tty
    assert "\r" not in pipe
    lines = pipe.splitlines()  # the failure, then only the final count (the next is an hour away)
    assert len(lines) == 2 and "failed: " in lines[0] and "broken.dcm" in lines[0]
    assert lines[1].startswith("[3/3 100%]") and lines[1].endswith("1 failed")


def test_ray_options_need_the_ray_engine(scan_folder_input, tmp_path, capsys):
    argv = ["scan", str(scan_folder_input), "--out", str(tmp_path / "out")]
    assert main([*argv, "--address", "127.0.0.1:6379", "--batch", "4"]) == 1
    assert "--address, --batch need --engine ray" in capsys.readouterr().err
    assert main([*argv, "--engine", "ray", "--actors", "0"]) == 1
    assert not (tmp_path / "out").exists()
