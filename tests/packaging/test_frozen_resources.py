"""The frozen build finds its own pack, demo studies and icon under ``sys._MEIPASS``, never the repo's."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Run in a fresh interpreter that PyInstaller's bootloader would have set up: sys.frozen and
# sys._MEIPASS (the bundle's _internal folder) exist before any project module is imported.
PROBE = """
import json, sys
sys.frozen, sys._MEIPASS = True, sys.argv[1]
from engine import bundled_pack_dir, demo_studies_dir, icon_path, version_info
from engine.resources import resources_dir
print(json.dumps({"resources": str(resources_dir()), "pack": str(bundled_pack_dir()),
                  "demo": str(demo_studies_dir()), "icon": str(icon_path()), "version": version_info()}))
"""


def test_frozen_root_holds_the_pack_and_resources(tmp_path):
    bundle = tmp_path / "bundle" / "_internal"
    pack = bundle / "resources" / "pack"
    pack.mkdir(parents=True)
    manifest = json.loads((ROOT / "resources" / "pack" / "manifest.json").read_text())
    manifest["name"] = "bundle-copy"  # a pack that exists only in the fake bundle
    (pack / "manifest.json").write_text(json.dumps(manifest))
    out = subprocess.run([sys.executable, "-c", PROBE, str(bundle)], cwd=tmp_path, capture_output=True,
                         text=True, check=True, env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)})
    found = json.loads(out.stdout)
    resources = bundle / "resources"
    assert found["resources"] == str(resources)
    assert found["pack"] == str(pack) and found["demo"] == str(resources / "demo")
    assert found["icon"] == str(resources / "icons" / "cxr-lens.svg")
    assert found["version"]["frozen"] is True
    assert found["version"]["pack"]["name"] == "bundle-copy"
    assert found["version"]["pack"]["path"] == str(pack)


def test_frozen_root_without_a_pack_reports_the_bundle_path(tmp_path):
    bundle = tmp_path / "_internal"
    bundle.mkdir()
    out = subprocess.run([sys.executable, "-c", PROBE, str(bundle)], cwd=tmp_path, capture_output=True,
                         text=True, check=True, env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)})
    pack = json.loads(out.stdout)["version"]["pack"]
    assert pack["path"] == str(bundle / "resources" / "pack")
    assert "model pack folder not found" in pack["error"]


def test_the_repository_icon_exists_for_the_bundle():
    from engine.resources import icon_path

    assert icon_path().is_file() and icon_path().read_text().startswith("<svg")
