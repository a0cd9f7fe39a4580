"""The CPU build's recipe keeps pyproject's pins, and the smoke test's trace reader flags network use."""
from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CUDA_PAIR = {"torch", "torchvision"}


def _pins(lines) -> dict[str, str]:
    found = {}
    for line in lines:
        line = line.split("#")[0].strip()
        if line:
            name, version = re.fullmatch(r"([A-Za-z0-9_.\-\[\]]+)==(\S+)", line).groups()
            found[name.lower()] = version
    return found


def test_dist_requirements_pin_what_pyproject_pins_except_the_cpu_torch():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    runtime = _pins(project["dependencies"])
    dist = _pins((ROOT / "build_spec" / "requirements-dist.txt").read_text().splitlines())
    nodeps = _pins((ROOT / "build_spec" / "nodeps.txt").read_text().splitlines())
    assert dist["torch"].endswith("+cpu")
    assert not set(dist) & set(nodeps)
    for name, version in runtime.items():
        if name not in CUDA_PAIR:
            assert {**dist, **nodeps}.get(name) == version, name
    assert nodeps["torchvision"] == "0.28.0" and dist["torch"] == "2.13.0+cpu"  # the released pair
    assert dist["pyinstaller"] == _pins(project["optional-dependencies"]["build"])["pyinstaller"]
    assert set(dist) - set(runtime) == {"pyinstaller"}


def test_trace_reader_flags_network_attempts_and_repository_files(tmp_path):
    from build_spec.smoke_test import inet_sockets, network_and_repo_access

    trace = tmp_path / "t.strace"
    allowed = [
        '10 socket(AF_UNIX, SOCK_STREAM|SOCK_CLOEXEC, 0) = 3',
        '10 connect(3, {sa_family=AF_UNIX, sun_path="/tmp/.X11-unix/X99"}, 20) = 0',
        '10 openat(AT_FDCWD, "/tmp/copy/_internal/torch/lib/libc10.so", O_RDONLY|O_CLOEXEC) = 4',
        '11 socket(AF_INET6, SOCK_STREAM|SOCK_CLOEXEC, IPPROTO_IP) = 5',  # urllib3's IPv6 probe
        '11 bind(5, {sa_family=AF_INET6, sin6_port=htons(0), sin6_flowinfo=htonl(0), '
        'inet_pton(AF_INET6, "::1", &sin6_addr), sin6_scope_id=0}, 28) = 0',
        '11 connect(6, {sa_family=AF_INET, sin_port=htons(10095), sin_addr=inet_addr("127.0.0.1")}, 16) = -1',
    ]
    attempts = [
        '12 connect(5, {sa_family=AF_INET, sin_port=htons(443), sin_addr=inet_addr("1.2.3.4")}, 16) = -1',
        '12 sendto(6, "x", 1, 0, {sa_family=AF_INET6, sin6_port=htons(53), '
        'inet_pton(AF_INET6, "2001:db8::1", &sin6_addr)}, 28) = -1',
        '12 bind(7, {sa_family=AF_INET, sin_port=htons(0), sin_addr=inet_addr("0.0.0.0")}, 16) = 0',
        '12 socket(AF_PACKET, SOCK_RAW, 768) = 8',
        f'13 openat(AT_FDCWD, "{ROOT}/resources/pack/manifest.json", O_RDONLY|O_CLOEXEC) = 9',
    ]
    trace.write_text("\n".join(allowed + attempts) + "\n")
    assert network_and_repo_access(trace) == attempts
    assert inet_sockets(trace) == 1
