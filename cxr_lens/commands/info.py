"""``cxr-lens info PATH [--json]``: studies, series and images found, with per-file errors, and the
DICOM results (TID 1500 SRs, Segmentations) found beside them with the images they reference.

Exit code 0 when everything read, 3 when some files failed but others loaded (each failure is
listed), 2 when nothing could be read.
"""
from __future__ import annotations

import json
import sys

from engine.images.read import ReadResult, read_path

EXIT_SOME_FAILED = 3


def register(subparsers) -> None:
    parser = subparsers.add_parser("info", help="list the studies, series and images under PATH")
    parser.add_argument("path", help="a file, folder or DICOMDIR")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.set_defaults(func=run)


def image_facts(image) -> dict:
    """Header facts of one image as plain JSON-able values."""
    return {
        "path": str(image.path),
        "kind": image.kind,
        "sop_uid": image.sop_uid,
        "instance_number": image.instance_number,
        "modality": image.modality,
        "body_part": image.body_part,
        "view_position": image.view_position,
        "laterality": image.laterality,
        "rows": image.rows,
        "columns": image.columns,
        "frames": image.number_of_frames,
        "pixel_spacing_mm": list(image.pixel_spacing_mm) if image.pixel_spacing_mm else None,
        "pixel_spacing_source": image.pixel_spacing_source or None,
        "photometric": image.photometric,
        "bits_stored": image.bits_stored,
        "transfer_syntax": image.transfer_syntax,
        "transfer_syntax_name": image.transfer_syntax_name,
    }


def results_found(result: ReadResult) -> tuple[list[dict], list[dict]]:
    """SR/SEG results among the skipped files, each with the paths of the images it references here."""
    from engine.dicom_results.read import find_results

    objects, failures = find_results(result.skipped)
    paths = {image.sop_uid: str(image.path) for image in result.images}
    found = [{**obj.to_dict(), "referenced_paths": [paths.get(uid) for uid in obj.references]} for obj in objects]
    return found, [{"path": str(path), "reason": reason} for path, reason in failures]


def result_document(result: ReadResult) -> dict:
    """The whole read as a JSON-able document."""
    results, result_errors = results_found(result)
    return {
        "studies": [
            {
                "study_uid": study.study_uid,
                "patient_name": study.patient_name,
                "patient_id": study.patient_id,
                "study_date": study.study_date,
                "description": study.description,
                "series": [
                    {
                        "series_uid": series.series_uid,
                        "number": series.number,
                        "modality": series.modality,
                        "description": series.description,
                        "images": [image_facts(image) for image in series.images],
                    }
                    for series in study.series
                ],
            }
            for study in result.studies
        ],
        "image_count": len(result.images),
        "errors": [{"path": str(error.path), "reason": error.reason} for error in result.errors],
        "skipped": [str(path) for path in result.skipped],
        "results": results,
        "result_errors": result_errors,
    }


def print_text(result: ReadResult) -> None:
    """Human-readable listing on stdout."""
    for study in result.studies:
        print(f"Study {study.study_uid}  patient {study.patient_name or '-'} ({study.patient_id or '-'})"
              f"  date {study.study_date or '-'}  {study.description}")
        for series in study.series:
            print(f"  Series {series.number if series.number is not None else '-'} {series.modality or '-'}"
                  f"  {series.description}  [{len(series.images)} image(s)]")
            for image in series.images:
                spacing = ("x".join(f"{v:.3f}" for v in image.pixel_spacing_mm) + " mm"
                           if image.pixel_spacing_mm else "no spacing")
                print(f"    #{image.instance_number if image.instance_number is not None else '-'} "
                      f"{image.path.name}  {image.columns}x{image.rows}"
                      f"{f' x{image.number_of_frames} frames' if image.number_of_frames > 1 else ''}"
                      f"  {image.photometric}  {image.view_position or '-'} {image.body_part or ''}"
                      f"  {spacing}  {image.transfer_syntax_name}")
    print(f"{len(result.images)} image(s) in {len(result.studies)} study(ies); "
          f"{len(result.errors)} file(s) could not be read")
    for error in result.errors:
        print(f"  ERROR {error.reason}")
    results, result_errors = results_found(result)
    for found in results:
        refs = ", ".join(path or f"{uid} (not in this folder)"
                         for uid, path in zip(found["references"], found["referenced_paths"]))
        content = (f"{len(found['findings'])} finding(s), gate {found['gate_status'] or '-'}" if found["kind"] == "SR"
                   else f"{found['method'] or '-'} maps: {', '.join(found['maps'])}")
        print(f"Result {found['kind']} {found['path']}  by {found['algorithm'] or '-'}: {content}; references {refs}")
    for failure in result_errors:
        print(f"  ERROR {failure['path']}: {failure['reason']}")


def run(args) -> int:
    result = read_path(args.path)
    if args.json:
        json.dump(result_document(result), sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        print_text(result)
    if result.errors and not result.images:
        return 2
    return EXIT_SOME_FAILED if result.errors else 0
