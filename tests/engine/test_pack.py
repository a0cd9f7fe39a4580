"""Model packs: export → load round trip, selftest, and refusal of damaged packs."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from engine.errors import PackError
from engine.model.pack import MANIFEST, SCHEMA_VERSION, WEIGHTS, describe_pack, load_pack, write_manifest

ROOT = Path(__file__).resolve().parents[2]


def _manifest(pack: Path) -> dict:
    return json.loads((pack / MANIFEST).read_text())


def test_tiny_pack_loads_and_passes_selftest(tiny_pack_dir):
    pack = load_pack(tiny_pack_dir)
    manifest = pack.manifest
    assert manifest["schema_version"] == SCHEMA_VERSION
    assert pack.label_names[0] == "Atelectasis" and len(pack.label_names) == 17
    assert set(manifest["files"]) >= {WEIGHTS, "selftest.safetensors", "tokenizer/tokenizer.json", "README.md"}
    assert "not for clinical use" in manifest["intended_use"]
    assert manifest["index"] is None  # room for the similar-case index
    assert manifest["gate"]["ood"]["threshold"] > 0


def test_tampered_weights_are_refused(tiny_pack_copy):
    path = tiny_pack_copy / WEIGHTS
    data = bytearray(path.read_bytes())
    data[-10] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(PackError, match="sha256"):
        load_pack(tiny_pack_copy)


def test_truncated_file_is_refused(tiny_pack_copy):
    path = tiny_pack_copy / "selftest.safetensors"
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(PackError, match="truncated"):
        load_pack(tiny_pack_copy)


def test_missing_file_is_refused(tiny_pack_copy):
    (tiny_pack_copy / "tokenizer" / "tokenizer.json").unlink()
    with pytest.raises(PackError, match="tokenizer/tokenizer.json.*missing"):
        load_pack(tiny_pack_copy)


def test_newer_schema_is_refused(tiny_pack_copy):
    manifest = _manifest(tiny_pack_copy)
    manifest["schema_version"] = SCHEMA_VERSION + 1
    (tiny_pack_copy / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(PackError, match="newer") as info:
        load_pack(tiny_pack_copy)
    assert "update CXR Lens" in str(info.value)


def test_broken_manifest_and_missing_folder_are_refused(tiny_pack_copy, tmp_path):
    (tiny_pack_copy / MANIFEST).write_text("{not json")
    with pytest.raises(PackError, match="not valid JSON"):
        load_pack(tiny_pack_copy)
    with pytest.raises(PackError, match="not found"):
        load_pack(tmp_path / "nowhere")


def test_gate_reading_unknown_features_is_refused(tiny_pack_copy):
    manifest = _manifest(tiny_pack_copy)
    manifest["gate"]["ood"]["features"] = "pixel_histogram"
    (tiny_pack_copy / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(PackError, match="pixel_histogram"):
        load_pack(tiny_pack_copy)


def test_gate_statistics_of_the_wrong_width_are_refused(tiny_pack_copy):
    """A pack whose gate.safetensors was made for other features (e.g. the image embedding) is refused."""
    manifest = _manifest(tiny_pack_copy)
    assert manifest["gate"]["ood"]["features"] == "encoder_tokens"
    manifest["gate"]["ood"]["features"] = "image_embedding"  # stats stay 2 x channels wide
    write_manifest(tiny_pack_copy, manifest)
    with pytest.raises(PackError, match="gate.safetensors does not hold 16-wide"):
        load_pack(tiny_pack_copy)


def test_consistent_but_wrong_weights_fail_selftest(tiny_pack_copy):
    """Weights swapped for others (manifest re-hashed) are caught by the selftest."""
    import torch
    from safetensors.torch import load_file, save_file

    state = load_file(str(tiny_pack_copy / WEIGHTS))
    state["head.bias"] = state["head.bias"] + torch.tensor(0.5, dtype=state["head.bias"].dtype)
    save_file(state, str(tiny_pack_copy / WEIGHTS))
    write_manifest(tiny_pack_copy, _manifest(tiny_pack_copy))
    with pytest.raises(PackError, match="selftest failed"):
        load_pack(tiny_pack_copy)


def test_added_files_are_hashed_by_write_manifest(tiny_pack_copy):
    (tiny_pack_copy / "index").mkdir()
    (tiny_pack_copy / "index" / "cases.json").write_text("[]")
    manifest = dict(_manifest(tiny_pack_copy), index={"modes": ["image"], "dim": 16, "count": 0})
    write_manifest(tiny_pack_copy, manifest)
    pack = load_pack(tiny_pack_copy)
    assert "index/cases.json" in pack.manifest["files"] and pack.manifest["index"]["dim"] == 16


def test_describe_pack(tiny_pack_dir):
    info = describe_pack(tiny_pack_dir)
    assert info["name"] == "tiny-test-pack" and info["bytes"] > 0 and len(info["labels"]) == 17


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "cxr_lens", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)


def test_cli_pack_info_and_verify(tiny_pack_dir, tiny_pack_copy):
    result = _cli("pack", "info", str(tiny_pack_dir), "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["name"] == "tiny-test-pack"
    result = _cli("pack", "verify", str(tiny_pack_dir), "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["ok"] is True
    (tiny_pack_copy / "README.md").write_text("changed")
    result = _cli("pack", "verify", str(tiny_pack_copy))
    assert result.returncode == 2 and "README.md" in result.stderr


def test_bundled_pack_verifies_and_states_its_limits():
    from engine.resources import bundled_pack_dir

    folder = bundled_pack_dir()
    if not (folder / MANIFEST).is_file():
        pytest.skip("no bundled pack (build it with `python -m training all`)")
    pack = load_pack(folder)
    manifest = pack.manifest
    assert "not for clinical use" in manifest["intended_use"]
    assert sum(entry["bytes"] for entry in manifest["files"].values()) < 60e6
    assert set(manifest["metrics"]["modes"]) == {"image", "text", "joint"}
    card = (folder / "README.md").read_text()
    assert "synthetic" in card.lower() and "re-read" in card
