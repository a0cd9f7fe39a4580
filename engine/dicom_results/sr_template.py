"""Write the TID 1500 SR from a template (:mod:`engine.dicom_results.template`).

The template is the SR :func:`engine.dicom_results.sr.build_sr_from` (highdicom) builds with
placeholders: sentinel UIDs for the SR, its series and the tracking identifiers; sentinel numbers for
the probabilities, thresholds and out-of-distribution values; sentinel codes for the Present/Absent
and gate-issue evaluations; sentinel texts for the gate messages. Its key: pack, input mode, gate
verdict, number of gate issues, which OOD values are present and the label names (a refused image
has none), so everything else in the report is the same for every image with that key. The source's
rows, columns, imager pixel spacing and patient orientation are holes too (IMAGE_LIBRARY_VALUES).
"""
from __future__ import annotations

import logging

from pydicom.sr.coding import Code

from engine.dicom_results import codes as c
from engine.dicom_results.source import Algorithm, Analysis
from engine.dicom_results.sr import build_sr_from, decision_code, gate_message, result_uids
from engine.dicom_results.template import (SENTINEL_NUMBER, SENTINEL_SCHEME, DatasetTemplate, Placeholders,
                                           sentinel_uids)
from engine.dicom_results.template_parts import TemplateCache, TemplateUnsupported, dataset_bytes

log = logging.getLogger(__name__)

_CACHE = TemplateCache()
#: Source values highdicom copies into the image library (TID 1601/1603 for CR/DX) as they are: holes,
#: so that one template serves films of every size, pixel spacing and view of a kind of image.
IMAGE_LIBRARY_VALUES = {"Rows": (65001,), "Columns": (65002,), "ImagerPixelSpacing": (65003.0, 65004.0),
                        "PatientOrientation": ("HOLEROW", "HOLECOLUMN")}


def template_key(analysis: Analysis, algorithm: Algorithm) -> tuple:
    """What the structure of an SR depends on besides the source header."""
    gate = analysis.gate or {"status": "pass", "issues": []}
    labels = () if analysis.refused else tuple(f[0] for f in analysis.findings)
    return (algorithm, analysis.mode, gate["status"], len(gate.get("issues", [])),
            tuple(gate.get(k) is not None for k in ("ood_score", "ood_threshold")), labels)


def _placeholders(analysis: Analysis) -> tuple[Analysis, Placeholders]:
    """The analysis with sentinels in place of its values, and where each sentinel goes."""
    gate = dict(analysis.gate or {"status": "pass", "issues": []})
    numbers, codes, texts, findings = {}, {}, {}, []
    for i, finding in enumerate(analysis.findings):
        numbers[SENTINEL_NUMBER - 2 * i] = ("p", i)
        numbers[SENTINEL_NUMBER - 2 * i - 1] = ("t", i)
        findings.append((finding[0], SENTINEL_NUMBER - 2 * i, SENTINEL_NUMBER - 2 * i - 1, False))
        codes[(f"D{i}", SENTINEL_SCHEME)] = ("decision", i)
    for j, key in enumerate(("ood_score", "ood_threshold")):
        if gate.get(key) is not None:
            gate[key] = SENTINEL_NUMBER - 2 * len(findings) - j
            numbers[gate[key]] = (key,)
    gate["issues"] = [{"code": f"hole{j}", "severity": "hole", "message": str(j)}
                      for j in range(len(gate.get("issues", [])))]
    for j, issue in enumerate(gate["issues"]):
        issue_code = c.gate_issue_code(issue["code"])
        codes[(issue_code.value, issue_code.scheme_designator)] = ("issue", j)
        texts[gate_message(issue)] = ("message", j)
    uids = sentinel_uids(["sr", "series", "track:analysis"] + [f"track:{f[0]}" for f in analysis.findings])
    return Analysis(analysis.mode, tuple(findings), gate), Placeholders(uids, numbers, codes, texts,
                                                                       source_values=IMAGE_LIBRARY_VALUES)


def _template(source, analysis: Analysis, algorithm: Algorithm) -> DatasetTemplate:
    placeholder, placeholders = _placeholders(analysis)
    sentinel_of = {role: uid for uid, (_kind, role) in placeholders.uids.items()}
    decisions = {f[0]: Code(f"D{i}", SENTINEL_SCHEME, "placeholder") for i, f in enumerate(placeholder.findings)}
    return DatasetTemplate(source, placeholders, lambda header: build_sr_from(
        header, placeholder, algorithm, sentinel_of, lambda finding: decisions[finding[0]]))


def _values(analysis: Analysis, uids: dict[str, str]) -> dict:
    values = {("uid", role): uid for role, uid in uids.items()}
    gate = analysis.gate or {"status": "pass", "issues": []}
    for i, finding in enumerate(analysis.findings):
        values[("p", i)], values[("t", i)] = finding[1], finding[2]
        values[("decision", i)] = decision_code(finding)
    for key in ("ood_score", "ood_threshold"):
        if gate.get(key) is not None:
            values[(key,)] = float(gate[key])
    for j, issue in enumerate(gate.get("issues", [])):
        values[("issue", j)] = c.gate_issue_code(issue["code"])
        values[("message", j)] = gate_message(issue)
    return values


def sr_file_bytes(source, analysis: Analysis, algorithm: Algorithm) -> bytes:
    """The SR file of ``analysis`` on the ``source`` header (:func:`engine.dicom_results.source.read_source`).

    From a cached template when one fits, else from a new template (kept for the next images), else
    (a template cannot be made or filled) from highdicom's full build.
    """
    uids = result_uids(source, analysis, algorithm)
    try:
        template = _CACHE.get(template_key(analysis, algorithm), source, lambda: _template(source, analysis, algorithm))
        return b"".join(template.fill(source, _values(analysis, uids), uids["sr"]))
    except (TemplateUnsupported, ValueError, TypeError, KeyError) as error:  # the full build says what is wrong
        log.info("SR built in full by highdicom, no template: %s", error)
        return dataset_bytes(build_sr_from(source, analysis, algorithm, uids, decision_code))


def cached_templates() -> int:
    """How many SR templates this process holds (for tests and the benchmark)."""
    return len(_CACHE)


def clear_templates() -> None:
    """Forget every cached SR template (the benchmark times the first write of each kind of image)."""
    _CACHE.clear()
