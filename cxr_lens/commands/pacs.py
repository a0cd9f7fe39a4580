"""``cxr-lens pacs echo|find|pull|send|scan``: a PACS client (DICOMweb with --url, DIMSE with --aet/--host/--port).

The server comes from ``--server NAME`` (an entry of the PACS configuration file, docs/PACS.md)
or from the options; the password or token comes from the configuration file or the environment
(``CXR_LENS_PACS_PASSWORD`` / ``CXR_LENS_PACS_TOKEN``), never from the command line, and is never
printed. ``pacs scan`` pulls each study a query finds, scans it, writes ``worklist.csv`` over all
of them, and with ``--send`` sends each study's DICOM results back; a study that fails is recorded
in ``OUT/studies.jsonl`` and the scan goes on. Exit codes: 0 ok, 1 usage, 2 server or input
failure, 3 some studies failed.
"""
from __future__ import annotations

import json
import logging
import sys
from dataclasses import replace
from pathlib import Path

from engine.errors import EngineError, PacsError
from engine.pacs import open_client
from engine.pacs.cache import StudyCache
from engine.pacs.config import PacsServer, pick_server
from engine.pacs.query import StudyQuery

log = logging.getLogger(__name__)
EXIT_SOME_FAILED = 3
STUDIES = "studies.jsonl"


def _server_options(parser) -> None:
    group = parser.add_argument_group("server (an entry of the configuration file, or the options)")
    group.add_argument("--server", help="name of an entry in the PACS configuration file")
    group.add_argument("--config", help="PACS configuration file (default ~/.config/cxr-lens/pacs.toml)")
    group.add_argument("--url", help="DICOMweb root URL, e.g. http://host:8042/dicom-web")
    group.add_argument("--user", help="HTTP user (password from CXR_LENS_PACS_PASSWORD)")
    group.add_argument("--ca-file", help="PEM file of CAs to trust for HTTPS")
    group.add_argument("--aet", help="the server's AE title (DIMSE)")
    group.add_argument("--host", help="the server's host (DIMSE)")
    group.add_argument("--port", type=int, help="the server's DICOM port (DIMSE)")
    group.add_argument("--calling-aet", help="our AE title (default CXRLENS)")
    group.add_argument("--local-port", type=int, help="our storage SCP port for C-MOVE")
    group.add_argument("--timeout", type=float, help="seconds to wait for the server (default 30)")
    group.add_argument("--retries", type=int, help="HTTP retries with backoff (default 3)")


def _query_options(parser) -> None:
    group = parser.add_argument_group("filters")
    group.add_argument("--patient-name", default="", help="PatientName (wildcards * ?)")
    group.add_argument("--patient-id", default="", help="PatientID")
    group.add_argument("--date-from", default="", help="StudyDate from YYYYMMDD")
    group.add_argument("--date-to", default="", help="StudyDate to YYYYMMDD")
    group.add_argument("--modality", default="", help="ModalitiesInStudy, e.g. CR or DX")
    group.add_argument("--accession", default="", help="AccessionNumber")
    group.add_argument("--limit", type=int, help="most studies to return")


def register(subparsers) -> None:
    parser = subparsers.add_parser("pacs", help="find, pull, send and scan studies on a PACS")
    actions = parser.add_subparsers(dest="pacs_command", required=True)
    echo = actions.add_parser("echo", help="check the server answers (C-ECHO or a QIDO-RS query)")
    find = actions.add_parser("find", help="search studies")
    _query_options(find)
    find.add_argument("--json", action="store_true", help="print the matches as one JSON document")
    pull = actions.add_parser("pull", help="retrieve a study into a local folder")
    pull.add_argument("study_uid", help="Study Instance UID")
    pull.add_argument("--out", required=True, help="cache folder (the study lands in OUT/<study uid>/)")
    send = actions.add_parser("send", help="store DICOM files on the server (STOW-RS or C-STORE)")
    send.add_argument("files", nargs="+", help="DICOM files")
    scan = actions.add_parser("scan", help="pull, analyse and triage every study a query finds")
    _query_options(scan)
    scan.add_argument("--out", required=True, help="output folder (cache/, one scan folder per study, worklist.csv)")
    scan.add_argument("--send", action="store_true", help="send each study's DICOM results (SR) back")
    scan.add_argument("--resume", action="store_true", help="skip studies done before; resume partial pulls")
    scan.add_argument("--pack", help="model pack folder (default: the bundled pack)")
    scan.add_argument("--triage", help="JSON file of triage weights (docs/PACS.md)")
    for sub in (echo, find, pull, send, scan):
        _server_options(sub)
    for sub in (pull, scan):
        sub.add_argument("--method", choices=("get", "move"), default="get",
                         help="DIMSE retrieve: C-GET (default) or C-MOVE to our storage SCP")
        sub.add_argument("--cache-limit-mb", type=float, help="evict least recently used studies above this size")
    parser.set_defaults(func=run)


def server_from_args(args) -> PacsServer:
    """The PacsServer the options describe (a configuration entry, overridden by options, secrets from env)."""
    server = pick_server(args.server, args.config) if args.server else PacsServer()
    overrides = {"url": args.url, "username": args.user, "ca_file": args.ca_file, "aet": args.aet,
                 "host": args.host, "port": args.port, "calling_aet": args.calling_aet,
                 "local_port": args.local_port, "timeout_s": args.timeout, "retries": args.retries}
    server = replace(server, **{k: v for k, v in overrides.items() if v is not None})
    if not server.url and not (server.aet and server.host and server.port):
        raise _Usage("give --server NAME, --url URL, or --aet/--host/--port")
    return server.with_secrets_from_env()


class _Usage(Exception):
    pass


def run(args) -> int:
    try:
        server = server_from_args(args)
        query = StudyQuery(args.patient_name, args.patient_id, args.date_from, args.date_to, args.modality,
                           args.accession, args.limit) if hasattr(args, "patient_name") else None
    except _Usage as error:
        print(f"cxr-lens pacs {args.pacs_command}: {error}", file=sys.stderr)
        return 1
    client = open_client(server)
    return {"echo": _echo, "find": _find, "pull": _pull, "send": _send, "scan": _scan}[args.pacs_command](
        args, server, client, query)


def _echo(args, server, client, query) -> int:
    latency = client.echo()
    extra = f" in {latency:.0f} ms" if latency is not None else ""
    print(f"{server.describe()}: answered{extra}", file=sys.stderr)
    return 0


def _find(args, server, client, query) -> int:
    matches = client.find_studies(query)
    if args.json:
        print(json.dumps({"server": server.describe(), "studies": [m.to_dict() for m in matches]}))
        return 0
    for m in matches:
        print(f"{m.study_uid}  {m.study_date or '--------'}  {m.modalities or '--':4}  {m.patient_id}  "
              f"{m.patient_name}  {m.accession}  {m.description}")
    print(f"{len(matches)} stud{'y' if len(matches) == 1 else 'ies'} on {server.describe()}", file=sys.stderr)
    return 0


def _cache(args, folder) -> StudyCache:
    limit = None if args.cache_limit_mb is None else int(args.cache_limit_mb * 1024 * 1024)
    return StudyCache(folder, limit)


def _pull_study(args, server, client, study_uid: str, cache: StudyCache):
    kwargs = {} if server.url else {"method": args.method}
    last = None
    for last in client.pull(study_uid, cache, **kwargs):
        log.debug("pulled %d/%d of %s", last.done, last.total, study_uid)
    return last


def _pull(args, server, client, query) -> int:
    last = _pull_study(args, server, client, args.study_uid, _cache(args, args.out))
    print(f"{args.study_uid}: {last.total} instance(s), {last.skipped} already cached, "
          f"{last.received_bytes} bytes received from {server.describe()} into "
          f"{Path(args.out) / args.study_uid}", file=sys.stderr)
    return 0


def _send(args, server, client, query) -> int:
    stored = client.send(args.files)
    print(f"sent {len(stored)} instance(s) to {server.describe()}", file=sys.stderr)
    return 0


def _scan(args, server, client, query) -> int:
    from engine.resources import bundled_pack_dir
    from engine.scan import scan_folder
    from engine.triage import TriagePolicy, write_worklist

    from engine.dicom_results.scan_output import ScanDicomWriter

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    pack_dir = args.pack or bundled_pack_dir()
    policy = TriagePolicy.from_json(args.triage) if args.triage else TriagePolicy()
    done = _studies_done(out) if args.resume else {}
    if not args.resume:
        (out / STUDIES).unlink(missing_ok=True)
    cache = _cache(args, out / "cache")
    matches = client.find_studies(query)
    print(f"{len(matches)} stud{'y' if len(matches) == 1 else 'ies'} found on {server.describe()}", file=sys.stderr)
    failed = 0
    for index, match in enumerate(matches, start=1):
        uid = match.study_uid
        if uid in done:
            print(f"[{index}/{len(matches)}] {uid}: already done", file=sys.stderr)
            continue
        record = {"study_uid": uid, "patient_id": match.patient_id, "accession": match.accession}
        try:
            _pull_study(args, server, client, uid, cache)
            scan_dir = out / "studies" / uid
            dicom = ScanDicomWriter(scan_dir, pack_dir, resume=args.resume) if args.send else None
            for _ in scan_folder(cache.study_dir(uid), scan_dir, pack_dir, resume=args.resume, dicom=dicom):
                pass
            if args.send:
                record["sent"] = client.send(_results_to_send(scan_dir))
            record["status"] = "done"
        except EngineError as error:
            failed += 1
            record.update(status="failed", error=str(error))
        print(f"[{index}/{len(matches)}] {uid}: {record.get('error') or 'done'}", file=sys.stderr)
        with open(out / STUDIES, "a") as handle:
            handle.write(json.dumps(record) + "\n")
    scanned = sorted(p for p in (out / "studies").iterdir() if p.is_dir()) if (out / "studies").exists() else []
    unretrieved = [{"study_uid": r["study_uid"], "path": "", "error": r["error"]}
                   for r in _last_records(out).values() if r.get("status") == "failed"]
    worklist = write_worklist(out, scanned, policy, unretrieved)
    print(f"{len(matches)} studies: {failed} failed; worklist in {worklist}", file=sys.stderr)
    return EXIT_SOME_FAILED if failed else 0


def _studies_done(out: Path) -> dict[str, dict]:
    """Studies a previous run finished (the last record per study counts)."""
    return {uid: r for uid, r in _last_records(out).items() if r.get("status") == "done"}


def _last_records(out: Path) -> dict[str, dict]:
    """The last ``studies.jsonl`` record of each study."""
    records = {}
    path = out / STUDIES
    for line in path.read_text().splitlines() if path.exists() else []:
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        records[record["study_uid"]] = record
    return records


def _results_to_send(scan_dir: Path) -> list[Path]:
    """The DICOM results the scan wrote for one study (``scan_dir/dicom/*.dcm``); PacsError when none."""
    files = sorted((scan_dir / "dicom").glob("*.dcm"))
    if not files:
        raise PacsError(f"no DICOM result was written for this study (see {scan_dir / 'errors.jsonl'} and "
                        f"{scan_dir / 'dicom' / 'index.jsonl'})", hint="nothing was sent for this study")
    return files
