"""Smoke test of a built executable: it starts offline, reads a DICOM, verifies and uses the pack.

Usage: ``python build_spec/smoke_test.py dist/cxr-lens/cxr-lens``. Exits non-zero on any failure.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run(exe: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "QT_QPA_PLATFORM": "offscreen"}
    result = subprocess.run([exe, *args], capture_output=True, text=True, env=env, timeout=300)
    print(f"$ cxr-lens {' '.join(args)} -> {result.returncode}", file=sys.stderr)
    return result


def main(exe: str) -> int:
    demo = next((ROOT / "resources" / "demo").rglob("*.dcm"))
    checks = []
    info = run(exe, "info", str(demo), "--json")
    checks.append(info.returncode == 0 and json.loads(info.stdout)["image_count"] == 1)
    checks.append(run(exe, "pack", "verify", str(ROOT / "resources" / "pack")).returncode == 0)
    predict = run(exe, "predict", str(demo), "--json")
    checks.append(predict.returncode == 0 and "findings" in json.loads(predict.stdout))
    with tempfile.TemporaryDirectory() as tmp:
        shot = Path(tmp) / "shot.png"
        checks.append(run(exe, "view", str(demo), "--screenshot", str(shot)).returncode == 0 and shot.exists())
    print("smoke test:", "passed" if all(checks) else f"failed {checks}", file=sys.stderr)
    return 0 if all(checks) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
