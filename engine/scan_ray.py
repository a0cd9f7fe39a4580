"""The batch scan on Ray: the local scan's output from a laptop, a local cluster or many nodes.

Pipeline: the driver streams the inputs (a folder walked lazily, or a manifest CSV of paths) →
one Ray task per file reads the header, decodes the pixels and reads the sidecar report → an actor
pool, each actor holding the pack loaded once, predicts a batch of decoded images → the driver
writes every record with :func:`engine.scan.write_record`, so the files, columns and probabilities
are the local engine's (each actor runs the same :class:`engine.predict.Predictor` per image; the
display pipeline and the model's preprocessing run there, on the decoded pixels the task sent).

Exactly once: the driver keeps the set of paths written and drops repeats; an actor that dies is
restarted (``max_restarts``) and its batch retried (``max_task_retries``); a batch that still fails
is resubmitted to another actor, and after ``BATCH_ATTEMPTS`` failures its files get error rows.
``--resume`` after a killed driver skips the paths already in ``results.jsonl``.

Ray is imported only inside functions here: the engine and the local scan never need it.
"""
from __future__ import annotations

import csv
import itertools
import logging
import os
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Iterator

import numpy as np

from engine.errors import EngineError
from engine.images.read import Image, NotAnImage, read_image, sniff_kind
from engine.scan import (
    ERRORS, RESULTS, ScanProgress, predict_record, prepare_out_dir, sidecar_report, write_record, write_summary,
)
from engine.triage import write_worklist

log = logging.getLogger(__name__)

INSTALL_HINT = "install the cluster extra: pip install '.[cluster]' (or pip install 'ray[data]==2.60.0')"
DECODE_CPUS = 0.25  # a decode task's CPU share: small, so decode tasks always fit beside the actors
IN_FLIGHT_PER_ACTOR = 2  # batches queued per actor: one running, one waiting
BATCH_ATTEMPTS = 3
RAY_TEMP_DIR = Path(tempfile.gettempdir()) / "cxr-lens-ray"


def import_ray():
    """Return the ``ray`` module, or raise EngineError saying how to install it."""
    try:
        import ray
    except ImportError as error:
        raise EngineError("the Ray engine needs Ray, which is not installed", hint=INSTALL_HINT) from error
    return ray


@dataclass(frozen=True, eq=False)
class DecodedImage(Image):
    """An :class:`Image` whose first frame was decoded by a Ray task (so the actor does not decode)."""

    decoded: np.ndarray | None = field(default=None, repr=False)

    def pixels(self, frame: int = 0) -> np.ndarray:
        """The decoded first frame; other frames are read from the file as usual."""
        return self.decoded if frame == 0 and self.decoded is not None else super().pixels(frame)


def iter_inputs(source: str | Path) -> Iterator[tuple[str, bool]]:
    """Stream ``(path, from_folder)`` for a folder (walked lazily, sorted) or a manifest CSV of paths.

    A manifest has a ``path`` column (else its first column is the path); relative paths are taken
    from the manifest's folder. Files found by walking a folder that are neither DICOM nor images are
    skipped quietly, as the local scan does; a path a manifest lists is always read.
    """
    source = Path(source)
    if source.is_dir():
        for root, dirs, files in os.walk(source):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            for name in sorted(files):
                if not name.startswith("."):
                    yield str(Path(root) / name), True
        return
    with open(source, newline="", encoding="utf-8") as handle:
        rows = csv.reader(handle)
        header = next(rows, [])
        column = header.index("path") if "path" in header else 0
        if "path" not in header and header:
            rows = itertools.chain([header], rows)  # no header row: the first row is a path
        for row in rows:
            if len(row) > column and row[column].strip():
                path = Path(row[column].strip())
                yield str(path if path.is_absolute() else source.parent / path), False


def decode_input(path: str, from_folder: bool, use_reports: bool) -> dict:
    """Read one file for the actors: ``{"path", "image", "report", "start"}``, or ``skip``/``error``.

    Never raises for a bad file. When the pixels cannot be decoded the image goes on undecoded, so
    the actor meets the same error (or the gate's refusal on the header) as the local engine does.
    """
    start = time.perf_counter()
    try:
        if from_folder and (sniff_kind(Path(path)) == "other" or Path(path).name.upper() == "DICOMDIR"):
            return {"path": path, "skip": "not an image"}
        image = read_image(path)
    except NotAnImage as document:
        return {"path": path, "skip": str(document)}
    except EngineError as error:
        return {"path": path, "error": str(error)}
    try:
        decoded = image.pixels(0)
        image = DecodedImage(**{f.name: getattr(image, f.name) for f in fields(Image)}, decoded=decoded)
    except EngineError:
        pass
    report = sidecar_report(Path(path)) if use_reports else None
    return {"path": path, "image": image, "report": report, "start": start}


class ScanActor:
    """Holds one Predictor (the pack loaded once) and predicts batches of decoded inputs."""

    def __init__(self, pack_dir: str, threads: int = 1, device: str = "cpu"):
        import ray

        from engine.predict import Predictor

        self.predictor = Predictor(pack_dir, threads=threads, device=device)
        self.node_id = ray.get_runtime_context().get_node_id()

    def predict(self, *items: dict) -> tuple[str, list[dict]]:
        """Records for decoded inputs (``skip`` and ``error`` items pass through); and this node's id."""
        records = [predict_record(self.predictor, item["image"], item["report"], item["start"])
                   if "image" in item else item for item in items]
        return self.node_id, records

    def where(self) -> dict:
        """This actor's node id and process id."""
        return {"node_id": self.node_id, "pid": os.getpid()}


@dataclass
class RayScan:
    """A scan of ``source`` on Ray; iterate :meth:`run` for progress.

    On a cluster, every node must see the inputs and the pack folder at the same paths.

    ``images_per_node`` counts the images each node's actors predicted in this run;
    ``actor_handles`` are the actors while the scan runs.
    """

    source: str | Path
    out_dir: str | Path
    pack_dir: str | Path
    resume: bool = False
    use_reports: bool = True
    address: str | None = None
    actors: int = 2
    batch: int = 8
    dicom: object = None  # a ScanDicomWriter (engine.dicom_results.scan_output): SR/SEG per result
    images_per_node: Counter = field(default_factory=Counter)
    actor_handles: list = field(default_factory=list)

    def run(self) -> Iterator[ScanProgress]:
        """Scan; yield a :class:`ScanProgress` per file written, one first for resumed files, and a last
        one when files found not to be images after the last write changed the total."""
        from engine.model.pack import load_pack

        if self.actors < 1 or self.batch < 1:
            raise EngineError("--actors and --batch must be at least 1")
        if not Path(self.source).exists():
            raise EngineError("no such folder or manifest", path=self.source,
                              hint="give a folder, or a CSV with a path column")
        ray = import_ray()
        pack = load_pack(self.pack_dir)  # verify before any work: a refused pack stops the scan here
        out_dir = Path(self.out_dir)
        done_paths = prepare_out_dir(out_dir, self.resume)
        started_here = not ray.is_initialized()
        if started_here:
            _connect_ray(ray, self.address)
        try:
            self.actor_handles = _start_actors(ray, str(pack.path), self.actors)
            yield from self._stream(ray, self.actor_handles, done_paths, out_dir)
        finally:
            for actor in self.actor_handles:
                ray.kill(actor)
            self.actor_handles = []
            if started_here:
                ray.shutdown()
        write_summary(out_dir, pack.label_names)
        write_worklist(out_dir)  # as the local engine: worklist.csv, studies by urgency

    def _stream(self, ray, actors, done_paths: set[str], out_dir: Path) -> Iterator[ScanProgress]:
        decode = ray.remote(num_cpus=DECODE_CPUS)(decode_input)
        candidates = already = 0
        for path, _ in iter_inputs(self.source):  # a first pass counts (only integers kept) for the ETA
            candidates += 1
            already += path in done_paths
        total, handled = candidates, set(done_paths)
        failed = done = 0
        last = None
        if already:
            yield ScanProgress(already, total, 0, already, str(self.source), f"{already} of {total} already done")
        inputs = ((p, f) for p, f in iter_inputs(self.source) if p not in done_paths)
        pending: dict = {}  # ref -> (actor index, [paths], attempt)
        load = Counter()
        with open(out_dir / RESULTS, "a") as results, open(out_dir / ERRORS, "a") as errors:
            while True:
                while len(pending) < IN_FLIGHT_PER_ACTOR * len(actors):
                    chunk = [next(inputs, None) for _ in range(self.batch)]
                    chunk = [item for item in chunk if item is not None]
                    if not chunk:
                        break
                    self._submit(actors, decode, chunk, 1, pending, load, self.use_reports)
                if not pending:
                    break
                [ref], _ = ray.wait(list(pending), num_returns=1)
                index, chunk, attempt = pending.pop(ref)
                load[index] -= 1
                try:
                    node_id, records = ray.get(ref)
                except (ray.exceptions.RayActorError, ray.exceptions.RayTaskError) as error:
                    if attempt < BATCH_ATTEMPTS:
                        log.warning("a batch of %d file(s) failed on actor %d (%s); trying again", len(chunk),
                                    index, type(error).__name__)
                        self._submit(actors, decode, chunk, attempt + 1, pending, load, self.use_reports)
                        continue
                    records = [{"path": path, "error": f"the Ray worker failed {attempt} times on this file's "
                                                       f"batch ({type(error).__name__})"} for path, _ in chunk]
                    node_id = None
                for record in records:
                    if record["path"] in handled:
                        continue  # exactly once: a retried batch may bring a path again
                    handled.add(record["path"])
                    if "skip" in record:
                        total -= 1
                        continue
                    done += 1
                    failed += "error" in record
                    if "error" not in record:
                        self.images_per_node[node_id] += 1
                    message = write_record(record, results, errors, self.dicom)
                    last = ScanProgress(done + already, total, failed, already, record["path"], message)
                    yield last
        if done and last.total != total:  # files found not to be images after the last write
            yield ScanProgress(done + already, total, failed, already, str(self.source), "finished")

    @staticmethod
    def _submit(actors, decode, chunk, attempt: int, pending: dict, load: Counter, use_reports: bool) -> None:
        """Decode ``chunk`` in tasks and queue their batch on the least loaded actor."""
        index = min(range(len(actors)), key=lambda i: load[i])
        refs = [decode.remote(path, from_folder, use_reports) for path, from_folder in chunk]
        pending[actors[index].predict.remote(*refs)] = (index, chunk, attempt)
        load[index] += 1


def _connect_ray(ray, address: str | None) -> None:
    """Join ``address``, or start a local Ray runtime on this machine's CPUs (no dashboard, temp in /tmp)."""
    if address:
        host = address.rsplit(":", 1)[0]
        loopback = host in ("localhost", "::1") or host.startswith("127.")
        # a driver joins through a raylet on its own node; on a loopback cluster that node is 127.0.0.1
        ray.init(address=address, log_to_driver=False, **({"_node_ip_address": "127.0.0.1"} if loopback else {}))
        return
    RAY_TEMP_DIR.mkdir(parents=True, exist_ok=True)
    ray.init(address="local", num_cpus=os.cpu_count() or 1, include_dashboard=False, log_to_driver=False,
             _temp_dir=str(RAY_TEMP_DIR))


def actor_resources(cluster: dict, count: int) -> dict:
    """What each of ``count`` ScanActors reserves on a cluster with resources ``cluster`` (Ray's dict).

    With at least one GPU per actor, each actor takes one GPU and runs the model there (``device``
    ``"cuda"``); otherwise the model runs on the CPU and each actor reserves
    ``min(1, cluster CPUs / count - DECODE_CPUS)`` CPUs, so that decode tasks always find room
    beside them (two actors on two 1-CPU nodes: 0.75 each).
    """
    cpus = float(cluster.get("CPU", 1.0))
    actor_cpus = max(DECODE_CPUS, min(1.0, cpus / count - DECODE_CPUS))
    if float(cluster.get("GPU", 0.0)) >= count:
        return {"num_cpus": actor_cpus, "num_gpus": 1, "device": "cuda"}
    return {"num_cpus": actor_cpus, "num_gpus": 0, "device": "cpu"}


def _start_actors(ray, pack_dir: str, count: int) -> list:
    """``count`` ScanActors, spread over the nodes, each restarted when it dies and its batch retried."""
    resources = actor_resources(ray.cluster_resources(), count)
    log.info("scan actors: %d on %s", count, resources["device"])
    remote = ray.remote(num_cpus=resources["num_cpus"], num_gpus=resources["num_gpus"], max_restarts=3,
                        max_task_retries=3)(ScanActor)
    actors = [remote.options(scheduling_strategy="SPREAD").remote(pack_dir, device=resources["device"])
              for _ in range(count)]
    for actor in actors:
        log.info("scan actor on node %s (pid %s)", *ray.get(actor.where.remote()).values())
    return actors
