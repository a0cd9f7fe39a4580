"""DICOM results cost in a scan: SR and SEG write time per image against the predict time, same run.

For every image (the bundled demo studies, 448 px, and pydicom-data's real CR chest film RG1_UNCR,
1955x1841, when installed) it times, per round: reading + predicting the image (what a scan does per
file, the baseline), reading its header and writing its SR (TID 1500, 17 findings) as the scan's
writer does (the header is read once for the SR and the SEG; the SR from a cached
template once one fits the image; the first write of each kind of image builds the template), the
same SR built in full by highdicom (the writer before templates, for comparison), and writing a
one-finding heatmap Segmentation (the map is computed once beforehand: explaining is not writing).
Target: SR + SEG add at most 20 % to the per-image time. A second part times a scan-like loop over
the same files with and without ``ScanDicomWriter`` (an SR per image, as ``cxr-lens scan
--dicom-sr`` writes them, templates built in its first round), which is what a user waits for.
"""
from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._common import markdown_table, pydicom_data_dir, require_data, write_results  # noqa: E402

ROUNDS = 5
TARGET = 0.20


def image_sets() -> dict[str, list[Path]]:
    """``{"demo": demo DICOM files, "rg1": [RG1_UNCR.dcm]}`` (rg1 only with pydicom-data)."""
    from engine.resources import demo_studies_dir

    sets = {"demo 448 px": sorted(demo_studies_dir().glob("*/*.dcm"))}
    data = pydicom_data_dir()
    if data is not None and (data / "RG1_UNCR.dcm").exists():
        sets["RG1 1955x1841"] = [data / "RG1_UNCR.dcm"]
    return sets


def time_set(predictor, algorithm, files: list[Path], out: Path) -> dict:
    """Median per-image milliseconds of predict, SR and SEG (from a template, first write, highdicom build)."""
    from engine.dicom_results import seg_template, sr_template
    from engine.dicom_results.seg import build_heatmap_seg, write_heatmap_seg
    from engine.dicom_results.source import read_source
    from engine.dicom_results.sr import build_sr, write_sr
    from engine.explain.heatmap import Heatmap, explain_steps
    from engine.images.display import display_float
    from engine.images.read import read_image

    maps = {}
    for path in files:  # one Grad-CAM map per image, made before timing
        image = read_image(path)
        label = max(predictor.predict(image, check_gate=False).findings, key=lambda f: f.probability).name
        maps[path] = {label: next(i for i in explain_steps(predictor, display_float(image), label, "gradcam")
                                  if isinstance(i, Heatmap)).values}
    sr_template.clear_templates()
    seg_template.clear_templates()
    times = {key: [] for key in ("predict", "sr", "sr_first", "sr_highdicom", "seg", "seg_first", "seg_highdicom")}
    for _ in range(ROUNDS):
        for index, path in enumerate(files):
            t0 = time.perf_counter()
            prediction = predictor.predict(read_image(path))
            t1 = time.perf_counter()
            kinds = sr_template.cached_templates(), seg_template.cached_templates()
            source = read_source(path)  # read once for both objects, as the scan's writer does
            write_sr(source, prediction, algorithm, out / f"{index}.sr.dcm")
            t2 = time.perf_counter()
            write_heatmap_seg(source, maps[path], "gradcam", algorithm, out / f"{index}.seg.dcm")
            t3 = time.perf_counter()
            build_sr(path, prediction, algorithm).save_as(out / f"{index}.full.sr.dcm", enforce_file_format=True)
            t4 = time.perf_counter()
            build_heatmap_seg(path, maps[path], "gradcam", algorithm).save_as(out / f"{index}.full.seg.dcm",
                                                                             enforce_file_format=True)
            t5 = time.perf_counter()
            times["predict"].append(t1 - t0)
            times["sr_first" if sr_template.cached_templates() > kinds[0] else "sr"].append(t2 - t1)
            times["seg_first" if seg_template.cached_templates() > kinds[1] else "seg"].append(t3 - t2)
            times["sr_highdicom"].append(t4 - t3)
            times["seg_highdicom"].append(t5 - t4)
    ms = {key: 1000 * statistics.median(values) for key, values in times.items()}
    ms["templates"] = len(times["sr_first"])
    ms["ratio_sr_seg_to_predict"] = (ms["sr"] + ms["seg"]) / ms["predict"]
    ms["ratio_highdicom_to_predict"] = (ms["sr_highdicom"] + ms["seg_highdicom"]) / ms["predict"]
    return ms


def time_scan_loop(predictor, pack_dir: Path, files: list[Path], out: Path) -> dict:
    """Wall milliseconds per image of a scan-like loop, without and with the scan's SR writer."""
    from engine.dicom_results.scan_output import ScanDicomWriter
    from engine.images.read import read_image

    def loop(writer) -> float:
        start = time.perf_counter()
        for _ in range(ROUNDS):
            for path in files:
                image = read_image(path)
                record = {"path": str(path), "sop_uid": image.sop_uid, **predictor.predict(image).to_dict()}
                if writer is not None:
                    writer.write(record)
        return (time.perf_counter() - start) / (ROUNDS * len(files))

    from engine.dicom_results.sr_template import clear_templates

    plain = loop(None)
    clear_templates()  # the loop's first round builds the templates, as a scan's first images do
    with_sr = loop(ScanDicomWriter(out, pack_dir))
    return {"plain_ms": 1000 * plain, "with_sr_ms": 1000 * with_sr, "added_fraction": with_sr / plain - 1}


def main() -> int:
    from engine.dicom_results.source import Algorithm
    from engine.predict import Predictor
    from engine.resources import bundled_pack_dir

    pack_dir = require_data(bundled_pack_dir() if (bundled_pack_dir() / "manifest.json").exists() else None,
                            "the bundled model pack", "run `python -m training all --config training/configs/demo.yaml`")
    predictor = Predictor(pack_dir, threads=1)
    algorithm = Algorithm.from_pack(predictor.pack)
    results, rows = {"pack": f"{algorithm.name} {algorithm.version}", "rounds": ROUNDS, "target": TARGET,
                     "load_average_before": os.getloadavg()[0]}, []
    with tempfile.TemporaryDirectory() as tmp:
        for name, files in image_sets().items():
            key = name.split()[0].lower()
            ms = time_set(predictor, algorithm, files, Path(tmp))
            loop = time_scan_loop(predictor, pack_dir, files, Path(tmp) / key)
            results[key] = {"files": len(files), "templates_built": ms.pop("templates"),
                            **{k if k.startswith("ratio") else f"{k}_ms": v for k, v in ms.items()}, "scan_loop": loop}
            rows.append([name, len(files), ms["predict"], ms["sr"], ms["seg"], f"{100 * ms['ratio_sr_seg_to_predict']:.0f} %",
                         ms["sr_first"], ms["seg_first"], ms["sr_highdicom"], ms["seg_highdicom"],
                         f"{100 * ms['ratio_highdicom_to_predict']:.0f} %",
                         loop["plain_ms"], loop["with_sr_ms"], f"{100 * loop['added_fraction']:+.0f} %"])
    results["load_average_after"] = os.getloadavg()[0]
    header = ["images", "files", "read + predict ms", "SR write ms", "SEG write ms", "(SR+SEG) / predict",
              "SR first write ms", "SEG first write ms", "SR highdicom ms", "SEG highdicom ms",
              "highdicom (SR+SEG) / predict", "scan loop ms/image", "with --dicom-sr ms/image", "added"]
    table = markdown_table(header, rows)
    print(table)
    verdicts = [f"{row[0]}: {row[5]} ({'meets' if results[row[0].split()[0].lower()]['ratio_sr_seg_to_predict'] <= TARGET else 'misses'} the {TARGET:.0%} target; {row[10]} with highdicom building every object)"
                for row in rows]
    section = ("## DICOM results (SR TID 1500 + heatmap SEG)\n\n"
               "Median per image over " f"{ROUNDS} rounds, pack {results['pack']}, one torch thread. "
               "*read + predict* is the scan's per-file work (the baseline). *SR write* and *SEG write* are "
               "`write_sr` (TID 1500, 17 findings) and `write_heatmap_seg` (one fractional frame of a "
               "precomputed Grad-CAM map) filling a cached template: the object highdicom builds for "
               "placeholders, encoded with holes (engine/dicom_results/template.py). *first write* is the "
               "write that builds the template for a new kind of image (SR templates built: "
               + ", ".join(f"{results[key]['templates_built']} for {key}" for key in ("demo", "rg1") if key in results)
               + ": one per template key — pack, input mode, gate verdict and issues, labels — and kind of "
               "source image, e.g. CR or DX). *highdicom* "
               "builds and saves the same object in full (the writers before templates). The scan loop "
               "columns time the same files read and predicted in a loop, and again with ScanDicomWriter "
               "writing each image's SR (as `scan --dicom-sr`; its first round builds the templates).\n\n"
               + table + "\n\nTarget: SR + SEG add ≤ 20 % to the per-image time. " + "; ".join(verdicts) + ". "
               f"Load average (1 min) before → after: {results['load_average_before']:.1f} → "
               f"{results['load_average_after']:.1f} (2 cores shared with other jobs).")
    write_results("dicom_results", results, section)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
