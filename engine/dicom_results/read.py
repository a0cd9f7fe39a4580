"""Read AI results back: TID 1500 SRs into findings, Segmentations into [0, 1] maps, Parametric
Maps into real-world-value maps.

Works for the objects CXR Lens writes and for any TID 1500 SR or Segmentation another tool wrote:
findings are the measurement groups' finding types (mapped back to CXR Lens labels by code, else
named by the code's meaning), the probability is the group's "Probability" measurement (or its
only unitless one), and the decision is its Present/Absent qualitative evaluation.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from engine.dicom_results import codes as c
from engine.errors import DicomError

log = logging.getLogger(__name__)

SR_CLASSES = {"1.2.840.10008.5.1.4.1.1.88.22", "1.2.840.10008.5.1.4.1.1.88.33", "1.2.840.10008.5.1.4.1.1.88.34"}
SEG_CLASS = "1.2.840.10008.5.1.4.1.1.66.4"
PM_CLASS = "1.2.840.10008.5.1.4.1.1.30"


@dataclass(frozen=True)
class LoadedFinding:
    """One finding read from an SR: probability and threshold in [0, 1] (None when absent)."""

    name: str
    probability: float | None
    threshold: float | None
    positive: bool | None


@dataclass(frozen=True)
class ResultObject:
    """An SR or Segmentation read back.

    Attributes
    ----------
    kind
        ``"SR"``, ``"SEG"`` or ``"PM"``.
    references
        SOP Instance UIDs of the images it references (the analysed image).
    algorithm
        ``"name version"`` of the algorithm that made it, as the object states it.
    findings, mode, gate_status, gate_messages
        SR only: the findings, the input mode, the input gate's verdict and its messages.
    maps, method
        SEG: ``{label: (rows, cols) float32 in [0, 1]}`` and the heatmap method; PM: ``{LUT label:
        (rows, cols) float32}`` in the real-world units of its mapping (slope and intercept applied).
    """

    path: Path
    kind: str
    sop_uid: str
    study_uid: str
    references: tuple[str, ...]
    algorithm: str
    findings: tuple[LoadedFinding, ...] = ()
    mode: str = ""
    gate_status: str = ""
    gate_messages: tuple[str, ...] = ()
    maps: dict = field(default_factory=dict, repr=False)
    method: str = ""

    def to_dict(self) -> dict:
        """JSON-safe summary (maps by name and shape only)."""
        return {"path": str(self.path), "kind": self.kind, "sop_uid": self.sop_uid, "study_uid": self.study_uid,
                "references": list(self.references), "algorithm": self.algorithm, "mode": self.mode,
                "gate_status": self.gate_status, "gate_messages": list(self.gate_messages),
                "findings": [{"name": f.name, "probability": f.probability, "threshold": f.threshold,
                              "positive": f.positive} for f in self.findings],
                "maps": {name: list(m.shape) for name, m in self.maps.items()}, "method": self.method}


def result_kind(sop_class_uid: str) -> str | None:
    """``"SR"``, ``"SEG"`` or ``"PM"`` for the SOP classes results come in, else None."""
    uid = str(sop_class_uid)
    return "SR" if uid in SR_CLASSES else "SEG" if uid == SEG_CLASS else "PM" if uid == PM_CLASS else None


def read_result(path: str | Path) -> ResultObject:
    """Read one SR (TID 1500), Segmentation or Parametric Map file.

    Raises
    ------
    DicomError
        Not DICOM, not an SR/SEG/PM, or an SR without a TID 1500 measurement report.
    """
    import pydicom

    path = Path(path)
    try:
        dataset = pydicom.dcmread(path)
    except Exception as error:  # noqa: BLE001 - damaged files raise many types
        raise DicomError(f"cannot be read as DICOM ({type(error).__name__}: {error})", path=path,
                         hint="copy the file again from its source") from error
    kind = result_kind(dataset.get("SOPClassUID", ""))
    if kind == "SR":
        return _read_sr(path, dataset)
    if kind == "SEG":
        return _read_seg(path, dataset)
    if kind == "PM":
        return _read_pm(path, dataset)
    raise DicomError(f"not a TID 1500 SR, Segmentation or Parametric Map (SOP class "
                     f"{dataset.get('SOPClassUID', 'none')})", path=path,
                     hint="open it as an image, or give an SR/SEG/PM results file")


def _texts(items, meaning: str) -> list[str]:
    return [str(i.TextValue) for i in items if i.ValueType == "TEXT"
            and i.ConceptNameCodeSequence[0].CodeMeaning == meaning]


def _read_sr(path: Path, dataset) -> ResultObject:
    import highdicom as hd

    try:
        groups = hd.sr.srread(path).content.get_image_measurement_groups()
    except (AttributeError, ValueError, TypeError, KeyError) as error:
        raise DicomError(f"an SR, but not a TID 1500 measurement report ({error})", path=path,
                         hint="only TID 1500 Imaging Measurement Reports carry findings CXR Lens can show") from error
    findings, references, algorithm, mode, status, messages = [], [], "", "", "", []
    for group in groups:
        items = group[0].ContentSequence
        algorithm = algorithm or " ".join(_texts(items, "Algorithm Name") + _texts(items, "Algorithm Version"))
        references += [image.referenced_sop_instance_uid for image in group.source_images]
        evaluations = {(q.name.value, q.name.scheme_designator): q.value for q in group.get_qualitative_evaluations()}
        mode_code = evaluations.get((c.INPUT_MODE.value, c.INPUT_MODE.scheme_designator))
        mode = mode or next((key for key, code in c.MODES.items() if mode_code is not None
                             and code.value == mode_code.value), "")
        finding = group.finding_type
        if finding is None:
            continue
        if (finding.value, finding.scheme_designator) == (c.GATE_ASSESSMENT.value, c.GATE_ASSESSMENT.scheme_designator):
            verdict = evaluations.get((c.GATE_VERDICT.value, c.GATE_VERDICT.scheme_designator))
            status = next((key for key, code in c.GATE_STATUS.items() if verdict is not None
                           and code.value == verdict.value), "")
            messages += _texts(items, c.GATE_MESSAGE.meaning)
            continue
        measurements = group.get_measurements()
        probability = next((m.value for m in measurements if m.name.value == c.PROBABILITY.value), None)
        if probability is None and len(measurements) == 1:
            probability = measurements[0].value
        threshold = next((m.value for m in measurements if m.name.value == c.THRESHOLD.value), None)
        decision = evaluations.get((finding.value, finding.scheme_designator))
        positive = None if decision is None else decision.value == c.PRESENT.value
        findings.append(LoadedFinding(c.label_for_code(finding.value, finding.scheme_designator, finding.meaning),
                                      None if probability is None else float(probability),
                                      None if threshold is None else float(threshold), positive))
    return ResultObject(path, "SR", str(dataset.SOPInstanceUID), str(dataset.StudyInstanceUID),
                        tuple(dict.fromkeys(references)), algorithm, tuple(findings), mode, status, tuple(messages))


def _read_seg(path: Path, dataset) -> ResultObject:
    pixels = dataset.pixel_array.reshape(int(dataset.get("NumberOfFrames", 1)), int(dataset.Rows),
                                         int(dataset.Columns)).astype(np.float32)
    if dataset.SegmentationType == "FRACTIONAL":
        pixels /= float(dataset.MaximumFractionalValue)
    segments = {int(s.SegmentNumber): s for s in dataset.SegmentSequence}
    maps, method, algorithm = {}, "", ""
    shared = dataset.get("SharedFunctionalGroupsSequence", [None])[0]
    for index, frame in enumerate(dataset.PerFrameFunctionalGroupsSequence):
        holder = frame if "SegmentIdentificationSequence" in frame else shared  # one segment: shared
        number = int(holder.SegmentIdentificationSequence[0].ReferencedSegmentNumber)
        segment = segments[number]
        code = segment.SegmentedPropertyTypeCodeSequence[0]
        value = code.get("CodeValue") or code.get("LongCodeValue") or code.get("URNCodeValue")
        name = c.label_for_code(str(value), code.CodingSchemeDesignator, code.CodeMeaning)
        maps[name] = np.maximum(maps[name], pixels[index]) if name in maps else pixels[index]
        label = str(segment.get("SegmentLabel", ""))
        method = method or (label[label.rfind("(") + 1:-1] if label.endswith(")") else "")
        algorithm = algorithm or f"{segment.get('SegmentAlgorithmName', '')}"
    version = str(dataset.get("SoftwareVersions", ""))
    return ResultObject(path, "SEG", str(dataset.SOPInstanceUID), str(dataset.StudyInstanceUID),
                        _references(dataset), f"{algorithm} {version}".strip(), maps=maps, method=method)


def _read_pm(path: Path, dataset) -> ResultObject:
    pixels = dataset.pixel_array.reshape(int(dataset.get("NumberOfFrames", 1)), int(dataset.Rows),
                                         int(dataset.Columns)).astype(np.float32)
    shared = dataset.get("SharedFunctionalGroupsSequence", [None])[0]
    maps, method = {}, ""
    for index, frame in enumerate(dataset.PerFrameFunctionalGroupsSequence):
        holder = frame if "RealWorldValueMappingSequence" in frame else shared
        mapping = holder.RealWorldValueMappingSequence[0]
        name = str(mapping.get("LUTLabel", "")) or f"map {index + 1}"
        maps[name if name not in maps else f"{name} ({index + 1})"] = (
            pixels[index] * float(mapping.get("RealWorldValueSlope", 1.0))
            + float(mapping.get("RealWorldValueIntercept", 0.0)))
        method = method or str(mapping.get("LUTExplanation", ""))
    algorithm = f"{dataset.get('ManufacturerModelName', '')} {dataset.get('SoftwareVersions', '')}".strip()
    return ResultObject(path, "PM", str(dataset.SOPInstanceUID), str(dataset.StudyInstanceUID),
                        _references(dataset), algorithm, maps=maps, method=method)


def _references(dataset) -> tuple[str, ...]:
    """SOP Instance UIDs in the Referenced Series Sequence (0008,1115) of a SEG or PM."""
    return tuple(str(ref.ReferencedSOPInstanceUID) for series in dataset.get("ReferencedSeriesSequence", [])
                 for ref in series.ReferencedInstanceSequence)


def find_results(paths) -> tuple[list[ResultObject], list[tuple[Path, str]]]:
    """Read every SR/SEG/PM among ``paths`` (e.g. a :class:`engine.images.read.ReadResult`'s ``skipped``).

    Files that are not results are passed over quietly; results that fail to read are returned as
    ``(path, reason)``.
    """
    import pydicom

    found, errors = [], []
    for path in map(Path, paths):
        try:
            header = pydicom.dcmread(path, stop_before_pixels=True, specific_tags=["SOPClassUID"])
        except Exception:  # noqa: BLE001 - not DICOM: not a result
            continue
        if result_kind(header.get("SOPClassUID", "")) is None:
            continue
        try:
            found.append(read_result(path))
        except DicomError as error:
            errors.append((path, str(error)))
    return found, errors
