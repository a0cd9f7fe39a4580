"""Write one Comprehensive 3D SR, TID 1500 "Imaging Measurement Report", per analysed image.

The report holds one measurement group (TID 1501) for the analysis itself — input mode, the input
gate's verdict, each gate issue coded with its message as text, the out-of-distribution score and
threshold — and, unless the gate refused the image, one group per label: the finding's code as the
finding type, a qualitative evaluation Present/Absent (the calibrated decision), and the probability
(DCM 122157 "Probability", UCUM "1") and the decision threshold as numeric measurements. Every
group names the algorithm (pack name, version, manifest sha256 and input mode as parameters) and
references the source image.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Callable

from pydicom.sr.coding import Code

from engine.dicom_results import codes as c
from engine.dicom_results.source import Algorithm, Analysis, read_source

log = logging.getLogger(__name__)

MANUFACTURER = "CXR Lens"
SR_SERIES_NUMBER = 901


def algorithm_identification(algorithm: Algorithm, mode: str | None = None):
    """TID 4019 Algorithm Identification: pack name, version and (as a parameter) manifest sha256."""
    import highdicom as hd

    parameters = [f"manifest sha256 {algorithm.sha256}"] + ([f"input mode {mode}"] if mode else [])
    return hd.sr.AlgorithmIdentification(name=algorithm.name, version=algorithm.version, parameters=parameters)


def gate_message(issue: dict) -> str:
    """The TEXT value of one gate issue: ``"<severity>: <message>"`` (UT, cut to 1024 characters)."""
    return f"{issue['severity']}: {issue['message']}"[:1024]


def _analysis_group(analysis: Analysis, algorithm: Algorithm, source, uid: str):
    import highdicom as hd

    gate = analysis.gate or {"status": "pass", "issues": []}
    evaluations = [hd.sr.QualitativeEvaluation(c.INPUT_MODE, c.MODES.get(analysis.mode, c.MODES["none"])),
                   hd.sr.QualitativeEvaluation(c.GATE_VERDICT, c.GATE_STATUS[gate["status"]])]
    evaluations += [hd.sr.QualitativeEvaluation(c.GATE_ISSUE, c.gate_issue_code(issue["code"]))
                    for issue in gate.get("issues", [])]
    measurements = [hd.sr.Measurement(name=name, value=float(gate[key]), unit=c.UNIT_ONE)
                    for name, key in ((c.OOD_SCORE, "ood_score"), (c.OOD_THRESHOLD, "ood_threshold"))
                    if gate.get(key) is not None]
    group = hd.sr.MeasurementsAndQualitativeEvaluations(
        tracking_identifier=hd.sr.TrackingIdentifier(uid=uid, identifier=c.ANALYSIS_TRACKING),
        finding_type=c.GATE_ASSESSMENT, algorithm_id=algorithm_identification(algorithm, analysis.mode),
        measurements=measurements or None, qualitative_evaluations=evaluations,
        source_images=[hd.sr.SourceImageForMeasurementGroup.from_source_image(source)])
    for issue in gate.get("issues", []):  # TID 1501 row 12: qualitative evaluations as TEXT
        group[0].ContentSequence.append(hd.sr.TextContentItem(
            name=c.GATE_MESSAGE, value=gate_message(issue), relationship_type=hd.sr.RelationshipTypeValues.CONTAINS))
    return group


def _finding_group(finding: tuple, mode: str, algorithm: Algorithm, source, uid: str, decision: Code):
    import highdicom as hd

    name, probability, threshold, _positive = finding
    code = c.label_code(name)
    return hd.sr.MeasurementsAndQualitativeEvaluations(
        tracking_identifier=hd.sr.TrackingIdentifier(uid=uid, identifier=name),
        finding_type=code, algorithm_id=algorithm_identification(algorithm, mode),
        measurements=[hd.sr.Measurement(name=c.PROBABILITY, value=probability, unit=c.UNIT_ONE),
                      hd.sr.Measurement(name=c.THRESHOLD, value=threshold, unit=c.UNIT_ONE)],
        qualitative_evaluations=[hd.sr.QualitativeEvaluation(code, decision)],
        source_images=[hd.sr.SourceImageForMeasurementGroup.from_source_image(source)])


def decision_code(finding: tuple) -> Code:
    """Present (SCT 52101004) when the finding is positive (probability >= threshold), else Absent."""
    return c.PRESENT if finding[3] else c.ABSENT


def result_uids(source, analysis: Analysis, algorithm: Algorithm) -> dict[str, str]:
    """The deterministic UIDs of one image's SR: ``sr``, ``series``, ``track:analysis``, ``track:<label>``."""
    sop = str(source.SOPInstanceUID)
    uids = {"sr": c.result_uid(sop, algorithm.sha256, "sr", "findings"),
            "series": c.result_uid(str(source.SeriesInstanceUID), algorithm.sha256, "series", "sr"),
            "track:analysis": c.result_uid(sop, algorithm.sha256, "analysis", "sr")}
    uids.update({f"track:{f[0]}": c.result_uid(sop, algorithm.sha256, f[0], "sr") for f in analysis.findings})
    return uids


def build_sr(source_path: str | Path, prediction, algorithm: Algorithm):
    """Return the SR dataset (a highdicom ``Comprehensive3DSR``) for one image's prediction.

    ``prediction`` is an :class:`engine.predict.Prediction` or its dict form (a scan record). A
    refused image gets an SR with the analysis group only: the verdict and the reasons, no findings.
    This is the reference build, all in highdicom; :func:`write_sr` writes the same SR faster by
    reusing one such build per pack and image kind (:mod:`engine.dicom_results.sr_template`).

    Raises
    ------
    DicomError
        The source is not a DICOM image (see :func:`engine.dicom_results.source.read_source`).
    """
    source = read_source(source_path)
    analysis = Analysis.from_prediction(prediction)
    return build_sr_from(source, analysis, algorithm, result_uids(source, analysis, algorithm), decision_code)


def build_sr_from(source, analysis: Analysis, algorithm: Algorithm, uids: dict[str, str],
                  decision: Callable[[tuple], Code]):
    """The SR of ``analysis`` on the ``source`` header with the given UIDs (:func:`result_uids`) and
    Present/Absent codes (``decision(finding)``); :func:`build_sr` with every per-image value explicit."""
    import highdicom as hd

    groups = [_analysis_group(analysis, algorithm, source, uids["track:analysis"])]
    if not analysis.refused:
        groups += [_finding_group(f, analysis.mode, algorithm, source, uids[f"track:{f[0]}"], decision(f))
                   for f in analysis.findings]
    observer = hd.sr.ObserverContext(
        observer_type=hd.sr.CodedConcept.from_code(c.codes.DCM.Device),
        observer_identifying_attributes=hd.sr.DeviceObserverIdentifyingAttributes(
            uid=c.result_uid("device", algorithm.sha256, algorithm.name, algorithm.version),
            name=MANUFACTURER, manufacturer_name=MANUFACTURER, model_name=f"{algorithm.name} {algorithm.version}"))
    context = hd.sr.ObservationContext(observer_device_context=observer)
    try:  # the Image Library describes the source (highdicom reads e.g. Imager Pixel Spacing for CR/DX)
        report = hd.sr.MeasurementReport(observation_context=context, procedure_reported=c.PROCEDURE,
                                         imaging_measurements=groups, referenced_images=[source])
    except (AttributeError, IndexError) as error:  # an attribute it needs is absent or short (one-value Patient
        # Orientation): no library, the groups still reference the image
        log.info("%s: SR without an image library (%s)", source.get("SOPInstanceUID"), error)
        report = hd.sr.MeasurementReport(observation_context=context, procedure_reported=c.PROCEDURE,
                                         imaging_measurements=groups)
    sr = hd.sr.Comprehensive3DSR(
        evidence=[source], content=report[0], series_instance_uid=uids["series"],
        series_number=SR_SERIES_NUMBER, sop_instance_uid=uids["sr"],
        instance_number=1, manufacturer=MANUFACTURER, is_complete=True)
    sr.SeriesDescription = f"AI findings, {algorithm.name} {algorithm.version}"[:64]
    sr.CodingSchemeIdentificationSequence = [c.coding_scheme_identification()]
    return sr


def write_sr(source_path: str | Path, prediction, algorithm: Algorithm, out: str | Path) -> Path:
    """Write the SR of :func:`build_sr` to ``out`` (parent folders are made); return the path.

    ``source_path`` is the analysed DICOM file, or its header from
    :func:`engine.dicom_results.source.read_source` (read once for several objects).

    The bytes come from a template of the same pack and kind of image when one is cached
    (:func:`engine.dicom_results.sr_template.sr_file_bytes`): the same SR as :func:`build_sr`'s
    except the creation date and time, several times faster.
    """
    from engine.dicom_results.sr_template import sr_file_bytes

    source = read_source(source_path)
    data = sr_file_bytes(source, Analysis.from_prediction(prediction), algorithm)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(data)
    return out
