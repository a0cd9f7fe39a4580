"""Codes and UIDs of the DICOM results CXR Lens writes (SR TID 1500, fractional Segmentation).

Every label has one code: SNOMED CT where a concept exists, else a DICOM (DCM) code, else a code of
the private scheme :data:`PRIVATE_SCHEME`, which every object that uses it declares in its Coding
Scheme Identification Sequence (0008,0110). docs/LABELS.md lists each code and where it comes from.

UIDs are deterministic: :func:`result_uid` hashes (source SOP Instance UID, pack manifest sha256,
label, method) under :data:`UID_ROOT`, so running the same pack on the same image again writes an
object with the same SOP Instance UID, which replaces the earlier one in a PACS instead of adding
a duplicate.
"""
from __future__ import annotations

from pydicom.dataset import Dataset
from pydicom.sr.codedict import codes
from pydicom.sr.coding import Code
from pydicom.uid import PYDICOM_ROOT_UID, generate_uid

#: Root of every UID CXR Lens generates for results: pydicom's root for applications without a
#: registered one (1.2.826.0.1.3680043.8.498.), with the entropy namespaced by "cxr-lens".
UID_ROOT = PYDICOM_ROOT_UID
UID_NAMESPACE = "cxr-lens/dicom-results/1"

PRIVATE_SCHEME = "99CXRLENS"
PRIVATE_SCHEME_NAME = "CXR Lens private codes"


def private(value: str, meaning: str) -> Code:
    """A code of the CXR Lens private scheme (values fit Code Value's 16 characters)."""
    return Code(value, PRIVATE_SCHEME, meaning)


def _sct(value: str, meaning: str) -> Code:
    return Code(value, "SCT", meaning)


#: label name -> (code, source of the code as docs/LABELS.md states it)
LABEL_CODES: dict[str, tuple[Code, str]] = {
    "Atelectasis": (_sct("46621007", "Atelectasis"), "SNOMED CT"),
    "Cardiomegaly": (codes.SCT.Cardiomegaly, "SNOMED CT (pydicom codes.SCT.Cardiomegaly)"),
    "Effusion": (codes.SCT.PleuralEffusion, "SNOMED CT (pydicom codes.SCT.PleuralEffusion)"),
    "Edema": (codes.SCT.PulmonaryEdema, "SNOMED CT (pydicom codes.SCT.PulmonaryEdema)"),
    "Pneumonia": (_sct("233604007", "Pneumonia"), "SNOMED CT"),
    "Opacity": (codes.DCM.Opacity, "DICOM CID 6104 (pydicom codes.DCM.Opacity)"),
    "Nodule": (codes.SCT.Nodule, "SNOMED CT (pydicom codes.SCT.Nodule)"),
    "Mass": (codes.SCT.Mass, "SNOMED CT (pydicom codes.SCT.Mass)"),
    "Granuloma": (_sct("45647009", "Granuloma"), "SNOMED CT"),
    "Emphysema": (_sct("87433001", "Pulmonary emphysema"), "SNOMED CT"),
    "Pneumothorax": (codes.SCT.Pneumothorax, "SNOMED CT (pydicom codes.SCT.Pneumothorax)"),
    "Fracture": (_sct("125605004", "Fracture of bone"), "SNOMED CT"),
    "Hernia": (_sct("414403008", "Hernia of abdominal cavity"), "SNOMED CT"),
    "Pleural Thickening": (private("PLEURAL-THICK", "Pleural thickening"), "private (no code verified offline)"),
    "Fibrosis": (_sct("51615001", "Pulmonary fibrosis"), "SNOMED CT"),
    "Support Devices": (_sct("49062001", "Device"), "SNOMED CT"),
    "No Finding": (private("NO-FINDING", "No finding"), "private (the label is derived, not a finding)"),
}

PROCEDURE = _sct("399208008", "Plain chest X-ray")
PRESENT, ABSENT = codes.SCT.Present, codes.SCT.Absent
PROBABILITY = codes.DCM.Probability
UNIT_ONE = Code("1", "UCUM", "no units")
THRESHOLD = private("THRESHOLD", "Decision threshold")
INPUT_MODE = private("INPUT-MODE", "Input mode")
MODES = {mode: private(f"MODE-{mode.upper()}", meaning) for mode, meaning in
         (("image", "image input"), ("text", "text input"), ("joint", "joint input"), ("none", "none: no input used"))}
GATE_ASSESSMENT = private("INPUT-GATE", "Input gate assessment")
GATE_VERDICT = private("GATE-VERDICT", "Input gate verdict")
GATE_STATUS = {status: private(f"GATE-{status.upper()}", meaning) for status, meaning in
               (("pass", "Accepted"), ("warn", "Accepted with warnings"), ("refuse", "Refused"))}
GATE_ISSUE = private("GATE-ISSUE", "Input gate issue")
GATE_MESSAGE = private("GATE-MESSAGE", "Input gate message")
OOD_SCORE = private("OOD-SCORE", "Out-of-distribution score")
OOD_THRESHOLD = private("OOD-THRESHOLD", "Out-of-distribution threshold")
ANALYSIS_TRACKING = "CXR Lens analysis"


def gate_issue_code(issue_code: str) -> Code:
    """The private code of a gate issue (``modality``, ``lateral``, ``blank``, ``ood`` …)."""
    return private(f"GI-{issue_code.upper()}"[:16], f"Gate issue: {issue_code}")


def label_code(name: str) -> Code:
    """The code of a label name; a name outside the label set gets a private code of its own."""
    entry = LABEL_CODES.get(name)
    return entry[0] if entry else private(f"L-{name.upper().replace(' ', '-')}"[:16], name)


def label_for_code(value: str, scheme: str, meaning: str) -> str:
    """The CXR Lens label a coded finding means, or the code's meaning for codes outside the set."""
    for name, (code, _source) in LABEL_CODES.items():
        if code.value == value and code.scheme_designator == scheme:
            return name
    return meaning


def result_uid(source_sop_uid: str, pack_sha256: str, label: str, method: str) -> str:
    """A UID for a result object, the same for the same (source image, pack, label, method).

    ``label`` and ``method`` name what the UID is for (``"sr"``/``"findings"`` for the SR,
    ``"Effusion,Edema"``/``"gradcam"`` for a Segmentation, ``"series"``/``"sr"`` for a series).
    """
    return generate_uid(prefix=UID_ROOT, entropy_srcs=[UID_NAMESPACE, source_sop_uid, pack_sha256, label, method])


def coding_scheme_identification() -> Dataset:
    """The Coding Scheme Identification item (0008,0110) that declares :data:`PRIVATE_SCHEME`."""
    item = Dataset()
    item.CodingSchemeDesignator = PRIVATE_SCHEME
    item.CodingSchemeName = PRIVATE_SCHEME_NAME
    item.CodingSchemeResponsibleOrganization = "CXR Lens project"
    return item
