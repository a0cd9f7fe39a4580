"""Smoke test of the offline executable, from a copy outside the repository, with no network.

Usage: ``python build_spec/smoke_test.py [BUNDLE]`` (default ``dist/cxr-lens``; ``make dist-check``).

BUNDLE is copied to a temporary folder and every check runs the copy's ``cxr-lens``:

- in a network namespace without network (``unshare -n``; as root it is available, else
  ``unshare -rn``), with a cleared environment (only PATH, HOME, LANG and, per check,
  QT_QPA_PLATFORM or the DISPLAY that ``xvfb-run`` sets) and a working folder outside the repository;
- under ``strace``: a check fails if the app connects, sends to or binds an AF_INET/AF_INET6
  address other than loopback, creates an AF_PACKET socket, or opens any file inside the
  repository (the copy must need nothing from it).

The checks: ``--version``, ``info``, ``pack verify`` of the pack inside the copy, ``predict``,
``scan --workers 2`` of the copy's demo studies, ``similar``, ``explain --method ig``, ``label`` of a
.tgz of Open-i style reports made here, ``view --screenshot`` offscreen and on the xcb platform under
Xvfb, and ``view`` with no display and with a DISPLAY where no X server listens (exit code 2 for
both). Prints one line per check; exits 1 if any failed.
"""
from __future__ import annotations

import argparse
import hashlib
import io
import json
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# A network attempt: connecting, sending to or binding an internet address other than loopback
# (127.0.0.0/8, ::1), or a raw packet socket. Not attempts: importing pydicom imports urllib3, whose
# import-time IPv6 probe binds an AF_INET6 socket to ::1; X11's fallback for DISPLAY=:N when no
# unix socket answers connects to 127.0.0.1:6000+N.
INET = r"sa_family=AF_INET6?\b"
LOOPBACK = r"(\"::1\"|inet_addr\(\"127\.)"
NETWORK_ATTEMPT = re.compile(rf"\b(connect|sendto|sendmsg|bind)\(.*{INET}(?!.*{LOOPBACK})|\bsocket\(AF_PACKET")
INET_SOCKET = re.compile(r"\bsocket\(AF_INET6?,")
DEMO = "demo02_effusion"


@dataclass
class Check:
    """One command of the smoke test and what its result must show."""

    name: str
    args: list[str]
    verify: Callable[[subprocess.CompletedProcess, Path], str | None]  # None: passed, else the reason
    env: dict[str, str] = field(default_factory=lambda: {"QT_QPA_PLATFORM": "offscreen"})
    xvfb: bool = False


def isolation_prefix() -> list[str]:
    """The command prefix that removes network access (``unshare -n`` or ``-rn``), or [] if neither works."""
    for prefix in (["unshare", "-n", "--"], ["unshare", "-rn", "--"]):
        if shutil.which(prefix[0]) and subprocess.run([*prefix, "true"], capture_output=True).returncode == 0:
            return prefix
    print("warning: unshare cannot create a network namespace here; relying on strace alone", file=sys.stderr)
    return []


def network_and_repo_access(trace: Path) -> list[str]:
    """Lines of an strace log that attempt network traffic or open a file inside the repository."""
    repo = f'"{ROOT}/'
    return [line for line in trace.read_text(errors="replace").splitlines()
            if NETWORK_ATTEMPT.search(line) or (repo in line and re.search(r"\bopen(at)?\(", line))]


def inet_sockets(trace: Path) -> int:
    """How many AF_INET/AF_INET6 sockets the traced processes created (any use must be loopback)."""
    return sum(bool(INET_SOCKET.search(line)) for line in trace.read_text(errors="replace").splitlines())


def run_check(exe: Path, check: Check, work: Path, prefix: list[str]) -> tuple[bool, str, float]:
    """Run one check isolated and traced; return (passed, detail, seconds)."""
    trace = work / f"{check.name}.strace"
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(work / "home"), "LANG": "C.UTF-8", **check.env}
    xvfb = ["xvfb-run", "-a", "-s", "-screen 0 1600x1000x24"] if check.xvfb else []
    strace = [shutil.which("strace"), "-f", "-qq", "--seccomp-bpf", "-e", "trace=socket,connect,bind,sendto,sendmsg,open,openat",
              "-o", str(trace)]
    command = [*prefix, "env", "-i", *(f"{k}={v}" for k, v in env.items()), *xvfb, *strace, str(exe), *check.args]
    start = time.perf_counter()
    result = subprocess.run(command, cwd=work, capture_output=True, text=True, timeout=900)
    seconds = time.perf_counter() - start
    (work / f"{check.name}.stderr").write_text(result.stderr)
    leaks = network_and_repo_access(trace)
    if leaks:
        return False, f"network or repository access: {leaks[:3]}", seconds
    try:
        reason = check.verify(result, work)
    except (ValueError, KeyError, IndexError, TypeError, OSError) as error:  # output not as expected
        reason = f"{type(error).__name__}: {error}"
    if reason is None:
        return True, f"{inet_sockets(trace)} inet socket(s) created, loopback only", seconds
    tail = " | ".join(result.stderr.strip().splitlines()[-3:])
    return False, f"{reason} (exit code {result.returncode}; stderr: {tail})", seconds


def report_archive(path: Path) -> Path:
    """Write a .tgz of two Open-i style report XML files; return its path."""
    reports = {"CXR1": "Small hiatal hernia.", "CXR2": "No pneumothorax. Large right pleural effusion."}
    with tarfile.open(path, "w:gz") as archive:
        for uid, findings in reports.items():
            data = (f'<eCitation><uId id="{uid}"/><Abstract><AbstractText Label="FINDINGS">{findings}'
                    "</AbstractText></Abstract></eCitation>").encode()
            member = tarfile.TarInfo(f"ecgen-radiology/{uid[3:]}.xml")
            member.size = len(data)
            archive.addfile(member, io.BytesIO(data))
    return path


def ok_json(result, check) -> str | None:
    """None when the command exited 0, printed one JSON document and ``check(doc)`` holds."""
    if result.returncode != 0:
        return "non-zero exit code"
    return None if check(json.loads(result.stdout)) else f"unexpected output: {result.stdout[:300]}"


def picture_shows_something(path: Path) -> str | None:
    """None when ``path`` is a PNG whose pixels are not all one value."""
    from PIL import Image

    if not path.is_file():
        return f"{path.name} was not written"
    low, high = Image.open(path).convert("L").getextrema()
    return None if high > low else f"{path.name} is blank"


def checks(copy: Path, work: Path) -> list[Check]:
    """The smoke test's checks for a bundle copied to ``copy``."""
    resources = copy / "_internal" / "resources"
    pack, demo_dir = resources / "pack", resources / "demo"
    demo = sorted((demo_dir / DEMO).glob("*.dcm"))[0]  # the frontal view
    demo_files = sorted(demo_dir.rglob("*.dcm"))
    manifest_sha = hashlib.sha256((pack / "manifest.json").read_bytes()).hexdigest()
    reports = report_archive(work / "reports.tgz")

    def labels_ok(result, work):
        lines = [json.loads(line) for line in (work / "labels.jsonl").read_text().splitlines()]
        found = {line["id"]: line["labels"] for line in lines}
        expected = {"CXR1": {"Hernia": "positive"}, "CXR2": {"Effusion": "positive", "Pneumothorax": "negative"}}
        return None if result.returncode == 0 and found == expected else f"labels {found}"

    def scan_ok(result, work):
        rows = (work / "scan" / "summary.csv").read_text().splitlines()[1:]
        return None if result.returncode == 0 and len(rows) == len(demo_files) else f"{len(rows)} rows in summary.csv"

    return [
        Check("version", ["--version", "--json"], lambda r, w: ok_json(
            r, lambda d: d["frozen"] and d["pack"]["path"] == str(pack) and d["pack"]["sha256"] == manifest_sha)),
        Check("info", ["info", str(demo), "--json"], lambda r, w: ok_json(r, lambda d: d["image_count"] == 1)),
        Check("pack-verify", ["pack", "verify", str(pack), "--json"],
              lambda r, w: ok_json(r, lambda d: d["ok"] and d["path"] == str(pack))),
        Check("predict", ["predict", str(demo), "--json"],
              lambda r, w: ok_json(r, lambda d: d["pack"] == "cxr-lens-demo" and len(d["findings"]) > 0)),
        Check("scan", ["scan", str(demo_dir), "--out", str(work / "scan"), "--workers", "2"], scan_ok),
        Check("similar", ["similar", str(demo), "--k", "3", "--json"],
              lambda r, w: ok_json(r, lambda d: len(d["cases"]) == 3)),
        Check("explain-ig", ["explain", str(demo), "--label", "Effusion", "--method", "ig", "--out",
                             str(work / "ig.png")], lambda r, w: picture_shows_something(w / "ig.png")),
        Check("label-tgz", ["label", str(reports), "--out", str(work / "labels.jsonl")], labels_ok),
        Check("view-offscreen", ["view", str(demo), "--screenshot", str(work / "offscreen.png")],
              lambda r, w: picture_shows_something(w / "offscreen.png")),
        Check("view-xvfb", ["view", str(demo), "--screenshot", str(work / "xcb.png")],
              lambda r, w: picture_shows_something(w / "xcb.png"), env={"QT_QPA_PLATFORM": "xcb"}, xvfb=True),
        Check("view-no-display", ["view", str(demo)], lambda r, w: None if r.returncode == 2
              and "no display" in r.stderr else "expected exit code 2 and 'no display'", env={}),
        Check("view-no-x-server", ["view", str(demo)], lambda r, w: None if r.returncode == 2
              and "cannot open the X display :4095" in r.stderr else "expected exit code 2 and the display named",
              env={"DISPLAY": ":4095"}),
    ]


def main(argv: list[str] | None = None) -> int:
    """Copy the bundle, run every check from the copy, print a table; 0 when all passed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bundle", nargs="?", type=Path, default=ROOT / "dist" / "cxr-lens")
    args = parser.parse_args(argv)
    if not (args.bundle / "cxr-lens").is_file():
        print(f"{args.bundle}: no cxr-lens executable there — build it with `make dist`", file=sys.stderr)
        return 2
    for tool in ("strace", "xvfb-run"):
        if shutil.which(tool) is None:
            print(f"{tool} is missing — apt-get install -y strace xvfb xauth", file=sys.stderr)
            return 2
    temp = Path(tempfile.mkdtemp(prefix="cxr-lens-dist-check-"))
    failed = 1
    try:
        copy, work = temp / "cxr-lens", temp / "work"
        shutil.copytree(args.bundle, copy, symlinks=True)
        (work / "home").mkdir(parents=True)
        prefix = isolation_prefix()
        print(f"bundle copied to {copy}; isolation: {' '.join(prefix) or 'none'} + env -i + strace")
        failed = 0
        for check in checks(copy, work):
            passed, detail, seconds = run_check(copy / "cxr-lens", check, work, prefix)
            failed += not passed
            print(f"{'ok  ' if passed else 'FAIL'} {check.name:<16} {seconds:6.1f} s  {detail}", flush=True)
        print(f"dist-check: {'passed' if not failed else f'{failed} check(s) failed'} "
              f"(a failure names any network attempt or file opened in {ROOT})")
        return 1 if failed else 0
    finally:
        if failed:
            print(f"the copy, its outputs, stderr and strace logs are kept in {temp}")
        else:
            shutil.rmtree(temp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
