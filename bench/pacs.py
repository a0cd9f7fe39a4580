"""Benchmark PACS transfers against a real Orthanc on loopback.

Run ``python bench/pacs.py`` (no arguments). It starts a private Orthanc (bench/_orthanc.py),
stores STUDIES studies of IMAGES_PER_STUDY copies of a demo chest film (new UIDs, ~400 kB each)
and measures, in the same run and alternating order (best of ROUNDS):

* pull throughput (images/s and MB/s) of ``engine.pacs`` by DICOMweb (WADO-RS, one instance per
  request, atomic cache writes, resume bookkeeping) against a bare dicomweb-client loop
  (``search_for_instances`` + ``retrieve_instance`` + ``save_as`` per instance), and by C-GET against
  a bare pynetdicom C-GET that writes each received data set to a file;
* query latency (median of QUERIES calls) of a study search by QIDO-RS and by C-FIND, ours and bare.

Target (issue 17): ours >= 0.8 x each bare loop.
"""
from __future__ import annotations

import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench._common import markdown_table, write_results  # noqa: E402
from bench._orthanc import PASSWORD, SERVER_AET, USER, start_orthanc  # noqa: E402

STUDIES, IMAGES_PER_STUDY, ROUNDS, QUERIES = 4, 10, 3, 20


def _make_studies(folder: Path) -> list[Path]:
    import pydicom
    from pydicom.uid import generate_uid

    from engine.resources import demo_studies_dir

    source = sorted(Path(demo_studies_dir()).rglob("*_frontal.dcm"))[0]
    files = []
    for study_index in range(STUDIES):
        study, series = generate_uid(), generate_uid()
        for number in range(1, IMAGES_PER_STUDY + 1):
            dataset = pydicom.dcmread(source)
            dataset.StudyInstanceUID, dataset.SeriesInstanceUID = study, series
            dataset.SOPInstanceUID = dataset.file_meta.MediaStorageSOPInstanceUID = generate_uid()
            dataset.PatientID, dataset.InstanceNumber = f"BENCH-{study_index}", number
            path = folder / f"bench_{study_index}_{number}.dcm"
            dataset.save_as(path, enforce_file_format=True)
            files.append(path)
    return files


def _ours_dicomweb(server, studies, out):
    from engine.pacs.cache import StudyCache
    from engine.pacs.dicomweb import DicomWebClient

    client, cache = DicomWebClient(server), StudyCache(out)
    for study in studies:
        for _ in client.pull(study, cache):
            pass


def _bare_dicomweb(server, studies, out):
    import requests
    from dicomweb_client.api import DICOMwebClient

    session = requests.Session()
    session.auth = (USER, PASSWORD)
    client = DICOMwebClient(server.url, session=session)
    for study in studies:
        for item in client.search_for_instances(study_instance_uid=study):
            series, sop = item["0020000E"]["Value"][0], item["00080018"]["Value"][0]
            client.retrieve_instance(study, series, sop).save_as(out / f"{sop}.dcm", enforce_file_format=True)


def _ours_cget(server, studies, out):
    from engine.pacs.cache import StudyCache
    from engine.pacs.dimse import DimseClient

    client, cache = DimseClient(server), StudyCache(out)
    for study in studies:
        for _ in client.pull(study, cache, method="get"):
            pass


def _bare_cget(server, studies, out):
    from pydicom.dataset import Dataset
    from pydicom.uid import AllTransferSyntaxes
    from pynetdicom import AE, build_role, evt
    from pynetdicom.sop_class import StudyRootQueryRetrieveInformationModelGet as GetModel

    from engine.pacs.dimse import STORAGE_CLASSES

    def store(event):
        with open(out / f"{event.request.AffectedSOPInstanceUID}.dcm", "wb") as handle:
            handle.write(event.encoded_dataset())
        return 0x0000

    ae = AE(ae_title=server.calling_aet)
    ae.add_requested_context(GetModel)
    for uid in STORAGE_CLASSES:
        ae.add_requested_context(uid, AllTransferSyntaxes[:12])
    roles = [build_role(uid, scp_role=True) for uid in STORAGE_CLASSES]
    for study in studies:
        assoc = ae.associate(server.host, server.port, ae_title=server.aet, ext_neg=roles,
                             evt_handlers=[(evt.EVT_C_STORE, store)])
        identifier = Dataset()
        identifier.QueryRetrieveLevel, identifier.StudyInstanceUID = "STUDY", study
        for _status, _ in assoc.send_c_get(identifier, GetModel):
            pass
        assoc.release()


def _timed(function, server, studies, scratch: Path) -> float:
    out = scratch / f"run-{time.perf_counter_ns()}"
    out.mkdir()
    start = time.perf_counter()
    function(server, studies, out)
    elapsed = time.perf_counter() - start
    count = sum(1 for _ in out.rglob("*.dcm"))
    if count != len(studies) * IMAGES_PER_STUDY:
        raise RuntimeError(f"{function.__name__} stored {count} files, expected {len(studies) * IMAGES_PER_STUDY}")
    shutil.rmtree(out)
    return elapsed


def _query_latency(function) -> float:
    function()  # warm up
    times = []
    for _ in range(QUERIES):
        start = time.perf_counter()
        function()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> int:
    import logging

    from engine.pacs.config import PacsServer
    from engine.pacs.dicomweb import DicomWebClient
    from engine.pacs.dimse import DimseClient
    from engine.pacs.query import StudyQuery

    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("pynetdicom").setLevel(logging.ERROR)
    with tempfile.TemporaryDirectory(prefix="cxr-bench-pacs-") as tmp:
        tmp = Path(tmp)
        (tmp / "in").mkdir()
        files = _make_studies(tmp / "in")
        megabytes = sum(f.stat().st_size for f in files) / 1e6
        orthanc = start_orthanc(tmp / "orthanc")
        try:
            orthanc.upload(files)
            web = PacsServer(url=orthanc.dicomweb_url, username=USER, password=PASSWORD)
            dimse = PacsServer(aet=SERVER_AET, host="127.0.0.1", port=orthanc.dicom_port,
                               calling_aet=orthanc.client_aet)
            studies = [m.study_uid for m in DicomWebClient(web).find_studies(StudyQuery(patient_id="BENCH-*"))]
            pairs = {"dicomweb": (_ours_dicomweb, _bare_dicomweb, web), "cget": (_ours_cget, _bare_cget, dimse)}
            times = {f"{kind}.{who}": [] for kind in pairs for who in ("ours", "bare")}
            for round_index in range(ROUNDS):
                for kind, (ours, bare, server) in pairs.items():
                    order = [("ours", ours), ("bare", bare)][:: 1 if round_index % 2 == 0 else -1]
                    for who, function in order:
                        times[f"{kind}.{who}"].append(_timed(function, server, studies, tmp))
            queries = {
                "qido.ours_ms": _query_latency(lambda: DicomWebClient(web).find_studies(StudyQuery(modality="CR"))),
                "cfind.ours_ms": _query_latency(lambda: DimseClient(dimse).find_studies(StudyQuery(modality="CR"))),
            }
        finally:
            orthanc.stop()
    images = len(files)
    results, rows = {"images": images, "megabytes": round(megabytes, 2), "rounds": ROUNDS}, []
    for kind in pairs:
        best = {who: min(times[f"{kind}.{who}"]) for who in ("ours", "bare")}
        entry = {f"{who}_images_per_s": round(images / best[who], 1) for who in best}
        entry.update({f"{who}_mb_per_s": round(megabytes / best[who], 1) for who in best})
        entry["ratio"] = round(best["bare"] / best["ours"], 3)
        entry["meets_0_8"] = entry["ratio"] >= 0.8
        results[kind] = entry
        rows.append([kind, entry["ours_images_per_s"], entry["ours_mb_per_s"], entry["bare_images_per_s"],
                     entry["bare_mb_per_s"], entry["ratio"], "yes" if entry["meets_0_8"] else "NO"])
    results["query_latency_ms"] = {k.removesuffix("_ms"): round(v, 1) for k, v in queries.items()}
    table = markdown_table(["pull", "ours img/s", "ours MB/s", "bare img/s", "bare MB/s", "ours / bare", ">= 0.8"],
                           rows)
    latency = markdown_table(["study search (CR)", "median ms"],
                             [["QIDO-RS", round(queries["qido.ours_ms"], 1)],
                              ["C-FIND", round(queries["cfind.ours_ms"], 1)]])
    section = (f"## PACS transfers (Orthanc {'1.10'} on loopback)\n\n"
               f"{images} images ({megabytes:.1f} MB) in {STUDIES} studies, best of {ROUNDS} rounds, ours and the "
               "bare library loop alternating. Ours: `engine.pacs` (checks each instance, writes it atomically "
               "into the cache, keeps resume state); bare DICOMweb: dicomweb-client `retrieve_instance` + "
               "`save_as` per instance; bare C-GET: pynetdicom writing each received data set.\n\n"
               f"{table}\n\nQuery latency (median of {QUERIES}, new client each call):\n\n{latency}")
    print(table)
    print(latency)
    write_results("pacs", results, section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
