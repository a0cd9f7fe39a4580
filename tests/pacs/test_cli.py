"""`cxr-lens pacs echo|find|pull|send|scan` against the live Orthanc."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pydicom

from bench._orthanc import PASSWORD, SERVER_AET, USER
from cxr_lens.cli import main
from engine.pacs.config import load_servers
from tests.pacs.conftest import study_uid_of
from tests.pacs.helpers import TlsProxy, cached_files, demo_copy, leftovers


def _dimse(orthanc) -> list[str]:
    return ["--aet", SERVER_AET, "--host", "127.0.0.1", "--port", str(orthanc.dicom_port),
            "--calling-aet", orthanc.client_aet, "--timeout", "10"]


def test_find_json_with_every_filter_from_a_config_entry(orthanc, tmp_path, monkeypatch, capsys):
    config = tmp_path / "pacs.toml"
    config.write_text(f'[servers.orthanc]\nurl = "{orthanc.dicomweb_url}"\nusername = "{USER}"\n'
                      'password_env = "TEST_ORTHANC_PASSWORD"\nretries = 1\nbackoff_ms = 50\n')
    monkeypatch.setenv("TEST_ORTHANC_PASSWORD", PASSWORD)
    code = main(["pacs", "find", "--server", "orthanc", "--config", str(config), "--json", "--modality", "DX",
                 "--patient-name", "SYNTHETIC*", "--patient-id", "SYN-DEMO02_EFFUSION", "--date-from", "20100101",
                 "--date-to", "20101231", "--accession=-DEMO02_EFFUSION", "--limit", "5"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and out["server"] == orthanc.dicomweb_url
    assert [s["patient_id"] for s in out["studies"]] == ["SYN-DEMO02_EFFUSION"] and out["studies"][0]["instances"] == 2
    (tmp_path / "pacs.json").write_text(json.dumps({"servers": {"o": {"url": orthanc.dicomweb_url, "retries": 0}}}))
    assert load_servers(tmp_path / "pacs.json")["o"].retries == 0
    assert main(["pacs", "echo", "--server", "nope", "--config", str(config)]) == 2
    assert "no PACS entry named 'nope'" in capsys.readouterr().err and main(["pacs", "echo"]) == 1


def test_dimse_echo_find_pull_by_move_and_send(orthanc, tmp_path, capsys):
    assert main(["pacs", "echo", *_dimse(orthanc)]) == 0
    assert main(["pacs", "find", *_dimse(orthanc), "--patient-id", "SYN-DEMO04_PNEUMOTHORAX"]) == 0
    study = study_uid_of(orthanc, "SYN-DEMO04_PNEUMOTHORAX")
    assert capsys.readouterr().out.startswith(study)
    out = tmp_path / "pulled"
    assert main(["pacs", "pull", study, "--out", str(out), *_dimse(orthanc), "--method", "move",
                 "--local-port", str(orthanc.client_port), "--cache-limit-mb", "1"]) == 0
    assert len(cached_files(out / study)) == 1 and leftovers(out) == []
    source, = demo_copy("CLI-SEND", tmp=tmp_path)
    assert main(["pacs", "send", str(source), *_dimse(orthanc)]) == 0
    assert main(["pacs", "send", str(tmp_path / "pacs_notes.txt"), *_dimse(orthanc)]) == 2


def test_dicomweb_by_url_with_user_env_password_and_ca_file(orthanc, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("CXR_LENS_PACS_PASSWORD", PASSWORD)
    proxy = TlsProxy(tmp_path, orthanc.http_port)
    try:
        url = f"https://127.0.0.1:{proxy.port}/dicom-web"
        common = ["--url", url, "--user", USER, "--ca-file", str(proxy.ca_file), "--retries", "0"]
        assert main(["pacs", "echo", *common]) == 0
        study = study_uid_of(orthanc, "SYN-DEMO03_NODULE")
        assert main(["pacs", "pull", study, "--out", str(tmp_path / "c"), *common]) == 0
        assert len(cached_files(tmp_path / "c" / study)) == 1
        source, = demo_copy("CLI-STOW", tmp=tmp_path)
        assert main(["pacs", "send", str(source), *common]) == 0
        assert main(["pacs", "find", *common, "--patient-id", "CLI-STOW"]) == 0
        assert str(pydicom.dcmread(source).StudyInstanceUID) in capsys.readouterr().out
    finally:
        proxy.close()


def test_wrong_password_exits_2_and_no_secret_reaches_stderr_even_verbose(orthanc, tmp_path):
    env = {**os.environ, "CXR_LENS_PACS_PASSWORD": PASSWORD}
    command = [sys.executable, "-m", "cxr_lens", "-v", "pacs", "find", "--url", orthanc.dicomweb_url, "--user", USER]
    ok = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0 and "SYN-DEMO01_NORMAL" in ok.stdout and "DEBUG" in ok.stderr
    env["CXR_LENS_PACS_PASSWORD"] = "wrong-" + PASSWORD
    bad = subprocess.run([*command, "--retries", "0"], env=env, capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and f"{orthanc.dicomweb_url}: HTTP 401" in bad.stderr and "credentials" in bad.stderr
    for run in (ok, bad):
        assert PASSWORD not in run.stdout + run.stderr and "Authorization" not in run.stderr


def test_pacs_scan_triages_sends_srs_records_a_failed_study_and_resumes(orthanc, tmp_path, tiny_pack_dir, capsys,
                                                                       monkeypatch):
    from engine.pacs.config import PacsServer
    from engine.pacs.dicomweb import DicomWebClient
    from engine.triage import read_worklist

    good = demo_copy("SCAN-A", count=2, tmp=tmp_path, study_date="20150301") + \
        demo_copy("SCAN-B", tmp=tmp_path, study_date="20150302")
    bad = demo_copy("SCAN-CORRUPT", truncate=True, tmp=tmp_path, study_date="20150303")
    orthanc.upload(good + bad)
    weights = tmp_path / "weights.json"
    weights.write_text(json.dumps({"weights": {"Pneumothorax": 1.0, "Effusion": 0.5}, "urgent_weight": 2.0}))
    out = tmp_path / "scan"
    command = ["pacs", "scan", "--url", orthanc.dicomweb_url, "--user", USER, "--date-from", "20150101",
               "--date-to", "20151231", "--out", str(out), "--pack", str(tiny_pack_dir), "--send",
               "--triage", str(weights)]
    monkeypatch.setenv("CXR_LENS_PACS_PASSWORD", PASSWORD)
    assert main(command) == 3  # one study failed, the others were analysed
    studies = {r["patient_id"]: r for r in map(json.loads, (out / "studies.jsonl").read_text().splitlines())}
    assert {k: v["status"] for k, v in studies.items()} == {"SCAN-A": "done", "SCAN-B": "done",
                                                            "SCAN-CORRUPT": "failed"}
    assert "corrupt instance" in studies["SCAN-CORRUPT"]["error"]
    rows = read_worklist(out / "worklist.csv")
    assert len(rows) == 3 and sum(r.images for r in rows) == 4 and all(r.tier != "urgent" for r in rows)
    failed, = [r for r in rows if r.study_uid == studies["SCAN-CORRUPT"]["study_uid"]]
    assert failed.tier == "review" and "could not be analysed" in failed.reason and "corrupt" in failed.reason
    client = DicomWebClient(PacsServer(url=orthanc.dicomweb_url, username=USER, password=PASSWORD))
    on_server = {sop for _, sop in client.list_instances(studies["SCAN-A"]["study_uid"])}
    assert len(studies["SCAN-A"]["sent"]) == 2 and set(studies["SCAN-A"]["sent"]) <= on_server
    capsys.readouterr()
    assert main([*command, "--resume"]) == 3
    err = capsys.readouterr().err
    assert err.count("already done") == 2  # the failed study is tried again, and fails again
    assert f'{studies["SCAN-CORRUPT"]["study_uid"]}: ' in err and err.count("corrupt instance") == 1
    assert len(read_worklist(out / "worklist.csv")) == 3
