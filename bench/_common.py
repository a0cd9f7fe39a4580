"""Shared plumbing for benchmarks: write bench/results/<name>.json and a docs/BENCHMARKS.md section."""
from __future__ import annotations

import json
import os
import platform
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = ROOT / "bench" / "results"
BENCHMARKS_MD = ROOT / "docs" / "BENCHMARKS.md"


def pydicom_data_dir() -> Path | None:
    """Folder of the pydicom-data package's DICOM files (the ``dev`` extra), or None without it."""
    import importlib.util

    spec = importlib.util.find_spec("data_store")
    if spec is None or spec.origin is None:
        return None
    folder = Path(spec.origin).parent / "data"
    return folder if folder.is_dir() else None


def require_data(path: Path | None, what: str, how: str) -> Path:
    """Return ``path`` when it exists; else say what is missing and how to make it, and exit 2.

    A bench without its data must not run: it would overwrite its committed results in
    bench/results/ and docs/BENCHMARKS.md with figures about nothing. Call it before writing anything.
    """
    if path is None or not Path(path).exists():
        print(f"{what} is missing{f' ({path})' if path is not None else ''}: {how}. Nothing was measured; "
              "bench/results/ and docs/BENCHMARKS.md are left as they were.", file=sys.stderr)
        raise SystemExit(2)
    return Path(path)


def machine_facts() -> dict:
    """Return the facts that make a figure comparable: CPU count, Python, date (UTC)."""
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def markdown_table(header: list[str], rows: list[list]) -> str:
    """Return a GitHub markdown table; floats are printed with 3 significant decimals."""
    def cell(value) -> str:
        return f"{value:.3f}" if isinstance(value, float) else str(value)

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def write_results(name: str, results: dict, section_markdown: str, command: str | None = None) -> Path:
    """Write ``bench/results/<name>.json`` and replace the ``name`` section of BENCHMARKS.md.

    The section sits between ``<!-- bench:name:start -->`` and ``<!-- bench:name:end -->``
    markers; it is appended when absent; it ends with the ``command`` that made it (default
    ``python bench/<name>.py``). Returns the JSON path.
    """
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    results = {"machine": machine_facts(), **results}
    path = RESULTS_DIR / f"{name}.json"
    path.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")

    start, end = f"<!-- bench:{name}:start -->", f"<!-- bench:{name}:end -->"
    block = f"{start}\n{section_markdown.strip()}\n\n_Run: `{command or f'python bench/{name}.py'}` on " \
            f"{results['machine']['cpus']} CPUs, {results['machine']['date_utc']}._\n{end}"
    text = BENCHMARKS_MD.read_text() if BENCHMARKS_MD.exists() else "# Benchmarks\n"
    pattern = re.compile(re.escape(start) + ".*?" + re.escape(end), re.DOTALL)
    text = pattern.sub(lambda _: block, text) if pattern.search(text) else text.rstrip() + "\n\n" + block + "\n"
    BENCHMARKS_MD.write_text(text)
    return path
