"""``cxr-lens --version``: app, engine and pack versions, the same number as pyproject.toml."""
from __future__ import annotations

import json
import tomllib
from pathlib import Path

from cxr_lens import __version__
from cxr_lens.cli import main
from engine.about import ENGINE_VERSION
from engine.checksums import sha256_file
from engine.resources import bundled_pack_dir

ROOT = Path(__file__).resolve().parents[2]


def test_app_and_engine_versions_are_the_projects():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert __version__ == ENGINE_VERSION == project


def test_version_names_app_engine_and_the_bundled_pack(capsys):
    assert main(["--version"]) == 0
    out = capsys.readouterr().out
    manifest = json.loads((bundled_pack_dir() / "manifest.json").read_text())
    assert out.splitlines()[0] == f"cxr-lens {__version__}"
    assert f"engine {ENGINE_VERSION} (pack schema {manifest['schema_version']}" in out
    assert f"pack {manifest['name']} {manifest['version']} (sha256 {sha256_file(bundled_pack_dir() / 'manifest.json')})" in out


def test_version_json_for_another_pack(capsys, tiny_pack_dir):
    assert main(["--version", "--json", "--pack", str(tiny_pack_dir)]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["app"] == __version__ and info["frozen"] is False
    assert info["pack"]["path"] == str(tiny_pack_dir)
    assert info["pack"]["sha256"] == sha256_file(Path(tiny_pack_dir) / "manifest.json")


def test_version_with_a_missing_pack_says_so_and_exits_2(capsys, tmp_path):
    assert main(["--version", "--pack", str(tmp_path / "nowhere")]) == 2
    out = capsys.readouterr().out
    assert out.startswith(f"cxr-lens {__version__}\n")
    assert "nowhere: model pack folder not found" in out
