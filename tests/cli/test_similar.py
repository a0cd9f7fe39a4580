"""``cxr-lens similar`` and ``cxr-lens index add|info`` on the tiny pack, including a kill mid-write."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cxr_lens.cli import main
from tests.engine.test_similar import chest_png, write_paired_set

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def indexed_pack(tiny_pack_dir: Path, tmp_path_factory) -> Path:
    from training.index import build_pack_index

    root = tmp_path_factory.mktemp("similar-cli")
    pack = Path(shutil.copytree(tiny_pack_dir, root / "pack"))
    build_pack_index(pack, write_paired_set(root / "paired"), root / "cache", batch_size=4)
    return pack


def user_studies(folder: Path, seeds: range, with_reports: bool = True) -> Path:
    """PNG 'studies', one per sub-folder, each with a report.txt beside it when asked."""
    for seed in seeds:
        study = folder / f"study{seed:03d}"
        study.mkdir(parents=True, exist_ok=True)
        chest_png(study / "frontal.png", seed=1000 + seed)
        if with_reports:
            (study / "report.txt").write_text("FINDINGS: Small right pleural effusion. IMPRESSION: Effusion.")
    return folder


def run_json(capsys, argv: list[str]) -> tuple[int, dict]:
    code = main(argv)
    out = capsys.readouterr().out
    return code, (json.loads(out) if code == 0 else {})


def test_similar_json_by_image_excludes_own_case(indexed_pack: Path, capsys):
    query = indexed_pack.parent / "paired" / "case03.png"
    code, data = run_json(capsys, ["similar", str(query), "--k", "4", "--pack", str(indexed_pack),
                                   "--no-user-index", "--json"])
    assert code == 0 and data["mode"] == "image" and len(data["cases"]) == 4
    assert "case03" not in [c["case_id"] for c in data["cases"]] and data["excluded_own_study"] == 1
    first = data["cases"][0]
    assert set(first) >= {"case_id", "similarity", "labels", "shared_labels", "snippet", "archive"}
    assert data["archives"] == {"pack": 12}


def test_similar_free_text_and_thumbnails(indexed_pack: Path, capsys, tmp_path: Path):
    code, data = run_json(capsys, ["similar", "--text", "left basilar consolidation", "--k", "2",
                                   "--pack", str(indexed_pack), "--no-user-index", "--json",
                                   "--thumbnails", str(tmp_path / "thumbs")])
    assert code == 0 and data["mode"] == "text" and "Opacity" in data["query_labels"]
    from PIL import Image as PILImage
    assert PILImage.open(data["cases"][0]["thumbnail"]).size == (96, 96)


def test_similar_usage_and_input_errors(indexed_pack: Path, capsys, tmp_path: Path):
    assert main(["similar", "--pack", str(indexed_pack)]) == 1  # nothing to search with
    assert main(["similar", "--text", "effusion", "--mode", "image", "--pack", str(indexed_pack),
                 "--no-user-index"]) == 2
    assert main(["similar", str(tmp_path / "missing.dcm"), "--pack", str(indexed_pack)]) == 2
    capsys.readouterr()


def test_index_add_is_incremental_and_searched_with_the_pack(indexed_pack: Path, capsys, tmp_path: Path):
    studies = user_studies(tmp_path / "studies", range(3))
    index_dir = tmp_path / "user-index"
    base = ["--pack", str(indexed_pack), "--index-dir", str(index_dir), "--json"]
    code, first = run_json(capsys, ["index", "add", str(studies), *base])
    assert code == 0 and len(first["added"]) == 3 and first["count"] == 3 and first["snapshot"] == "gen-000001"
    code, again = run_json(capsys, ["index", "add", str(studies), *base])
    assert code == 0 and again["added"] == [] and len(again["already_indexed"]) == 3 and again["count"] == 3
    user_studies(studies, range(3, 5), with_reports=False)
    code, grown = run_json(capsys, ["index", "add", str(studies), *base])
    assert code == 0 and len(grown["added"]) == 2 and grown["count"] == 5 and grown["snapshot"] == "gen-000002"
    assert sorted(p.name for p in index_dir.iterdir()) == ["CURRENT", "gen-000002", "writer.lock"]  # old snapshot removed

    code, info = run_json(capsys, ["index", "info", *base])
    assert info["user"]["count"] == 5 and info["user"]["modes"] == {"image": 5, "text": 3, "joint": 5}
    assert info["pack"]["index"]["count"] == 12

    query = studies / "study001" / "frontal.png"
    code, data = run_json(capsys, ["similar", str(query), "--k", "17", "--pack", str(indexed_pack),
                                   "--index-dir", str(index_dir), "--json"])
    assert code == 0 and data["archives"] == {"pack": 12, "user": 5}
    ids = [(c["archive"], c["case_id"]) for c in data["cases"]]
    assert len(ids) == 16 and sum(a == "user" for a, _ in ids) == 4  # its own study is left out
    user_case = next(c for c in data["cases"] if c["archive"] == "user" and c["path"].endswith("study000/frontal.png"))
    assert user_case["labels"] == ["Effusion"] and user_case["label_source"] == "report"
    assert user_case["case_id"] == "study000/frontal"


def test_index_add_survives_a_kill_mid_write(indexed_pack: Path, capsys, tmp_path: Path):
    from engine.similar.archive import CaseArchive
    from engine.similar.store import PAUSE_ENV, current_generation

    studies = user_studies(tmp_path / "studies", range(2))
    index_dir = tmp_path / "user-index"
    base = ["--pack", str(indexed_pack), "--index-dir", str(index_dir), "--json"]
    assert run_json(capsys, ["index", "add", str(studies), *base])[1]["count"] == 2
    user_studies(studies, range(2, 4))

    marker = tmp_path / "paused"
    env = dict(os.environ, PYTHONPATH=str(ROOT), **{PAUSE_ENV: str(marker)})
    process = subprocess.Popen([sys.executable, "-m", "cxr_lens", "index", "add", str(studies), *base],
                               cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while not marker.exists():
            assert process.poll() is None, process.stderr.read().decode()
            assert time.monotonic() < deadline, "the writer never reached the pause"
            time.sleep(0.1)
        staging = Path(marker.read_text())
        assert staging.is_dir() and any(staging.iterdir())  # it had begun writing the new snapshot
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == -signal.SIGKILL

    live = current_generation(index_dir)
    assert live.name == "gen-000001"
    previous = CaseArchive.load(live)  # the previous snapshot is intact and verifies
    assert previous.count == 2 and previous.mode_counts() == {"image": 2, "text": 2, "joint": 2}

    code, after = run_json(capsys, ["index", "add", str(studies), *base])  # the next run completes the job
    assert code == 0 and len(after["added"]) == 2 and after["count"] == 4
    assert sorted(p.name for p in index_dir.iterdir()) == ["CURRENT", "gen-000002", "writer.lock"]  # debris cleaned


def test_similar_text_output(indexed_pack: Path, capsys):
    query = indexed_pack.parent / "paired" / "case02.png"
    assert main(["similar", str(query), "--report", "Right lower lobe consolidation.", "--k", "3",
                 "--pack", str(indexed_pack), "--no-user-index"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("joint search over pack archive (12 cases)") and "query labels (report): Opacity" in out
    assert " 1. case" in out and " 3. case" in out and " 4. " not in out and "case02 " not in out


def test_same_dicom_study_is_excluded_by_study_uid(indexed_pack: Path, rg1_path: Path, capsys, tmp_path: Path):
    """RG1_UNCR and RG1_UNCI are two files (two SOP instances) of one CR study."""
    from engine.images.read import read_image
    from engine.images.display import display_float
    from engine.predict import Predictor
    from engine.similar.search import SimilarSearch

    folder = tmp_path / "dicom"
    folder.mkdir()
    shutil.copy(rg1_path, folder / "RG1_UNCR.dcm")
    (folder / "RG1_UNCR.txt").write_text("IMPRESSION: Cardiomegaly.")
    index_dir = tmp_path / "user-index"
    code, added = run_json(capsys, ["index", "add", str(folder), "--pack", str(indexed_pack),
                                    "--index-dir", str(index_dir), "--json"])
    assert code == 0 and added["count"] == 1
    search = SimilarSearch.open(Predictor(indexed_pack), index_dir)
    other_file = read_image(rg1_path.with_name("RG1_UNCI.dcm"))
    by_array = search.query(image=display_float(other_file), k=13)
    assert any(c.archive == "user" and c.case_id == "dicom/RG1_UNCR" for c in by_array.cases)
    by_image = search.query(image=other_file, k=13)
    assert [c.archive for c in by_image.cases] == ["pack"] * 12 and by_image.excluded == 1


def test_two_adds_at_once_keep_every_case(indexed_pack: Path, tmp_path: Path):
    """Two processes add different studies to one index at the same moment: neither add is lost."""
    many = user_studies(tmp_path / "many", range(6))
    few = user_studies(tmp_path / "few", range(10, 12), with_reports=False)
    index_dir = tmp_path / "user-index"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    processes = [subprocess.Popen([sys.executable, "-m", "cxr_lens", "index", "add", str(folder), "--pack",
                                   str(indexed_pack), "--index-dir", str(index_dir), "--json"],
                                  cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                 for folder in (many, few)]
    outputs = [process.communicate(timeout=240) for process in processes]
    assert [p.returncode for p in processes] == [0, 0], [err.decode() for _, err in outputs]
    added = [json.loads(out)["added"] for out, _ in outputs]
    assert [len(a) for a in added] == [6, 2]
    from engine.similar.archive import CaseArchive
    from engine.similar.store import current_generation
    live = CaseArchive.load(current_generation(index_dir))
    assert live.count == 8
    assert sorted(case["path"] for case in live.cases) == sorted(str(Path(p).resolve()) for p in added[0] + added[1])
