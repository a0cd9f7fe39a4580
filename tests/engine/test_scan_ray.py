"""The scan on Ray (`cxr-lens scan --engine ray`): the local engine's output, exactly once, on a real
two-node local cluster (`ray start --head` + `ray start --address`, 1 CPU each, loopback)."""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from engine.scan import scan_folder

import ray  # noqa: E402 - the cluster extra is part of the test install; a missing Ray fails, never skips

ROOT = Path(__file__).resolve().parents[2]
RAY_BIN = Path(sys.executable).parent / "ray"
CLUSTER_ENV = {"RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _ray_start(args: list[str], log: Path) -> subprocess.Popen:
    """`ray start --block` in its own process group (so teardown can stop everything it started)."""
    return subprocess.Popen([str(RAY_BIN), "start", "--block", "--num-cpus", "1", "--disable-usage-stats",
                             "--node-ip-address", "127.0.0.1", *args], stdout=open(log, "w"),
                            stderr=subprocess.STDOUT, env=dict(os.environ, **CLUSTER_ENV), start_new_session=True)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """Address of a 2-node loopback Ray cluster; this process is connected to it as a driver."""
    logs = tmp_path_factory.mktemp("ray-logs")
    temp_dir = Path(f"/tmp/cxr-ray-test-{os.getpid()}")  # short: Ray's socket paths must stay < 108 bytes
    port = _free_port()
    address = f"127.0.0.1:{port}"
    saved = {name: os.environ.get(name) for name in CLUSTER_ENV}
    os.environ.update(CLUSTER_ENV)
    nodes = [_ray_start(["--head", "--port", str(port), "--include-dashboard=false", "--temp-dir", str(temp_dir)],
                        logs / "head.log")]
    try:
        deadline = time.monotonic() + 120
        while not ray.is_initialized():  # the head's GCS answers: join as a driver, start the second node
            assert nodes[0].poll() is None and time.monotonic() < deadline, (logs / "head.log").read_text()[-2000:]
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                ray.init(address=address, _node_ip_address="127.0.0.1", log_to_driver=False)
            except (ConnectionError, OSError):
                time.sleep(1)
        nodes.append(_ray_start(["--address", address], logs / "worker.log"))
        while len([n for n in ray.nodes() if n["Alive"]]) < 2:
            assert nodes[1].poll() is None and time.monotonic() < deadline, (logs / "worker.log").read_text()[-2000:]
            time.sleep(1)
        yield address
    finally:
        ray.shutdown()
        for sig in (signal.SIGTERM, signal.SIGKILL):  # then sweep whatever of the group is left
            for node in reversed(nodes):
                try:
                    os.killpg(node.pid, sig)
                except ProcessLookupError:
                    pass
            for node in nodes:
                try:
                    node.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    pass
        shutil.rmtree(temp_dir, ignore_errors=True)
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _rows(path: Path) -> dict[str, dict]:
    rows = [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
    return {row["path"]: row for row in rows}


def _assert_one_row_each(out: Path, expected: int) -> None:
    lines = [json.loads(line)["path"] for name in ("results.jsonl", "errors.jsonl")
             for line in (out / name).read_text().splitlines()]
    assert len(lines) == len(set(lines)) == expected


@pytest.fixture(scope="module")
def mixed_folder(tmp_path_factory, rg1_path, pydicom_data_dir) -> Path:
    """The demo studies, a real CR film with a report, an MR, a damaged file and a note: good and bad."""
    folder = tmp_path_factory.mktemp("mixed")
    shutil.copytree(ROOT / "resources" / "demo", folder / "demo")
    (folder / "chest").mkdir()
    shutil.copy(rg1_path, folder / "chest" / "rg1.dcm")
    (folder / "chest" / "report.txt").write_text("FINDINGS: Small left pleural effusion.")
    shutil.copy(pydicom_data_dir / "MR2_UNCR.dcm", folder / "mr.dcm")
    (folder / "broken.dcm").write_text("not dicom")
    (folder / "notes.md").write_text("not an image")
    return folder


def test_same_results_as_the_local_engine_and_both_nodes_work(cluster, mixed_folder, tiny_pack_dir, tmp_path):
    from engine.scan_ray import RayScan

    from engine.dicom_results.scan_output import ScanDicomWriter

    local, remote = tmp_path / "local", tmp_path / "ray"
    list(scan_folder(mixed_folder, local, tiny_pack_dir, dicom=ScanDicomWriter(local, tiny_pack_dir)))
    scan = RayScan(mixed_folder, remote, tiny_pack_dir, actors=2, batch=1, dicom=ScanDicomWriter(remote, tiny_pack_dir))
    last = list(scan.run())[-1]
    assert (last.done, last.total, last.failed) == (9, 9, 1)  # 6 demo + rg1 + MR images, broken.dcm
    ours, theirs = _rows(remote / "results.jsonl"), _rows(local / "results.jsonl")
    assert sorted(ours) == sorted(theirs) and len(ours) == 8
    for path, row in ours.items():
        assert (row["mode"], row["gate"], row["positive"], row["with_report"]) == \
               (theirs[path]["mode"], theirs[path]["gate"], theirs[path]["positive"], theirs[path]["with_report"])
        for mine, reference in zip(row["findings"], theirs[path]["findings"]):
            assert mine["name"] == reference["name"] and abs(mine["probability"] - reference["probability"]) <= 1e-5
    assert _rows(remote / "errors.jsonl") == _rows(local / "errors.jsonl")
    for name in ("summary.csv", "worklist.csv"):
        assert (remote / name).read_text() == (local / name).read_text()
    sr_written = {side: {json.loads(line)["path"]: bool(json.loads(line)["sr"])
                         for line in (out / "dicom" / "index.jsonl").read_text().splitlines()}
                  for side, out in (("local", local), ("ray", remote))}
    assert sr_written["ray"] == sr_written["local"] and sum(sr_written["ray"].values()) == 8  # an SR per DICOM image
    assert len(scan.images_per_node) == 2 and sum(scan.images_per_node.values()) == 8  # work on both nodes


def test_a_killed_actor_is_restarted_and_every_file_written_once(cluster, mixed_folder, tiny_pack_dir, tmp_path):
    from engine.scan_ray import RayScan

    scan = RayScan(mixed_folder, tmp_path / "out", tiny_pack_dir, actors=2, batch=1)
    killed = None
    for progress in scan.run():
        if killed is None and progress.done >= 1:
            victim = scan.actor_handles[0]
            killed = ray.get(victim.where.remote())["pid"]
            os.kill(killed, signal.SIGKILL)  # the process dies with its queued batches
    assert killed is not None and progress.done == progress.total == 9
    _assert_one_row_each(tmp_path / "out", 9)
    assert len(_rows(tmp_path / "out" / "results.jsonl")) == 8


def test_resume_after_the_driver_is_killed_redoes_nothing(cluster, tiny_pack_dir, tmp_path):
    from engine.scan_ray import RayScan
    from tests.engine.test_similar import chest_png

    folder = tmp_path / "many"
    folder.mkdir()
    for seed in range(40):
        chest_png(folder / f"c{seed:02d}.png", seed)
    out = tmp_path / "out"
    driver = subprocess.Popen([sys.executable, "-m", "cxr_lens", "scan", str(folder), "--out", str(out), "--pack",
                               str(tiny_pack_dir), "--engine", "ray", "--address", cluster, "--actors", "1",
                               "--batch", "1"], cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT), **CLUSTER_ENV),
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while len(_rows(out / "results.jsonl")) < 3:
            assert driver.poll() is None, driver.stderr.read().decode()[-3000:]
            assert time.monotonic() < deadline, "the driver wrote no results"
            time.sleep(0.05)
        driver.send_signal(signal.SIGKILL)
        driver.wait(timeout=30)
    finally:
        if driver.poll() is None:
            driver.kill()
    before = (out / "results.jsonl").read_text()
    done_before = len(_rows(out / "results.jsonl"))
    assert 3 <= done_before < 40, "the driver finished before it was killed"

    progresses = list(RayScan(folder, out, tiny_pack_dir, resume=True, actors=1, batch=4).run())
    assert progresses[0].message == f"{done_before} of 40 already done"
    assert progresses[-1].done == 40 and len(progresses) == 1 + 40 - done_before  # nothing redone
    assert (out / "results.jsonl").read_text().startswith(before.rsplit("\n", 1)[0])
    _assert_one_row_each(out, 40)


def test_local_runtime_from_the_command_line_with_a_manifest(tiny_pack_dir, mixed_folder, tmp_path):
    """Without --address a local Ray runtime starts and stops with the command; inputs from a CSV."""
    manifest = tmp_path / "inputs.csv"
    manifest.write_text("path\n" + "".join(f"{p}\n" for p in sorted(mixed_folder.glob("demo/*/*.dcm"))) +
                        f"{mixed_folder / 'broken.dcm'}\n")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env.pop("RAY_ADDRESS", None)
    done = subprocess.run([sys.executable, "-m", "cxr_lens", "scan", str(manifest), "--out", str(tmp_path / "out"),
                           "--pack", str(tiny_pack_dir), "--engine", "ray", "--actors", "1"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=240)
    assert done.returncode == 3, done.stderr[-3000:]  # broken.dcm is listed, so it is an error row
    assert "scanned 7 file(s): 1 failed" in done.stderr and "images per Ray node" in done.stderr
    _assert_one_row_each(tmp_path / "out", 7)


def test_ray_missing_says_how_to_install_it_and_the_engine_imports_without_it(tmp_path, tiny_pack_dir):
    code = ("import sys; sys.modules['ray'] = None\n"
            "import engine, engine.scan, engine.scan_ray, cxr_lens.commands.scan\n"
            "assert 'PySide6' not in sys.modules\n"
            "from cxr_lens.cli import main\n"
            f"sys.exit(main(['scan', {str(ROOT / 'resources' / 'demo')!r}, '--out', {str(tmp_path / 'o')!r}, "
            f"'--pack', {str(tiny_pack_dir)!r}, '--engine', 'ray']))")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    assert "needs Ray" in done.stderr and "pip install '.[cluster]'" in done.stderr
    plain = subprocess.run([sys.executable, "-c", "import sys, engine.scan; print('ray' in sys.modules)"],
                           cwd=ROOT, capture_output=True, text=True, timeout=60, check=True)
    assert plain.stdout.strip() == "False"


def test_inputs_stream_from_a_folder_or_a_manifest_with_or_without_a_header(tmp_path):
    from engine.errors import EngineError
    from engine.scan_ray import RayScan, iter_inputs

    (tmp_path / "in" / "b").mkdir(parents=True)
    for name in ("b/2.dcm", "1.png", ".hidden"):
        (tmp_path / "in" / name).write_bytes(b"x")
    assert list(iter_inputs(tmp_path / "in")) == [(str(tmp_path / "in" / "1.png"), True),
                                                  (str(tmp_path / "in" / "b" / "2.dcm"), True)]
    (tmp_path / "with.csv").write_text("id,path\na,in/1.png\nb,/abs/x.dcm\n")
    (tmp_path / "bare.csv").write_text("in/1.png\n/abs/x.dcm\n")
    expected = [(str(tmp_path / "in" / "1.png"), False), ("/abs/x.dcm", False)]
    assert list(iter_inputs(tmp_path / "with.csv")) == list(iter_inputs(tmp_path / "bare.csv")) == expected
    with pytest.raises(EngineError, match="no such folder or manifest"):
        next(RayScan(tmp_path / "nowhere", tmp_path / "out", tmp_path).run())
    assert not (tmp_path / "out").exists()  # stopped before Ray or any output


def test_actors_take_a_gpu_each_when_the_cluster_has_enough_and_the_cpu_otherwise():
    from engine.scan_ray import DECODE_CPUS, actor_resources

    on_gpus = actor_resources({"CPU": 16.0, "GPU": 2.0}, 2)
    assert on_gpus["num_gpus"] == 1 and on_gpus["device"] == "cuda" and on_gpus["num_cpus"] == 1.0
    too_few = actor_resources({"CPU": 2.0, "GPU": 1.0}, 2)
    assert too_few["num_gpus"] == 0 and too_few["device"] == "cpu"
    cpu_only = actor_resources({"CPU": 2.0}, 2)
    assert cpu_only == {"num_cpus": 1.0 - DECODE_CPUS, "num_gpus": 0, "device": "cpu"}
