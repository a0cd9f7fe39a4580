"""What to look for on a PACS (:class:`StudyQuery`) and what comes back (:class:`StudyMatch`).

One query type serves both protocols: :meth:`StudyQuery.qido_filters` gives QIDO-RS search
parameters, :meth:`StudyQuery.dimse_identifier` a C-FIND identifier (Study Root, STUDY level).
"""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass

from engine.errors import PacsError

_DATE = re.compile(r"^\d{8}$")
# attribute keyword -> DICOM tag as QIDO-RS JSON keys it ("PS3.18 F.2")
STUDY_FIELDS = {
    "StudyInstanceUID": "0020000D", "PatientName": "00100010", "PatientID": "00100020",
    "StudyDate": "00080020", "AccessionNumber": "00080050", "StudyDescription": "00081030",
    "ModalitiesInStudy": "00080061", "NumberOfStudyRelatedInstances": "00201208",
}


@dataclass(frozen=True)
class StudyQuery:
    """Study-level search filters; empty ones are not sent.

    Attributes
    ----------
    patient_name
        PatientName (0010,0010); ``*`` and ``?`` wildcards allowed.
    patient_id
        PatientID (0010,0020).
    date_from, date_to
        StudyDate (0008,0020) range, ``YYYYMMDD``, inclusive; either end may be open.
    modality
        ModalitiesInStudy (0008,0061), e.g. ``CR`` or ``DX``.
    accession
        AccessionNumber (0008,0050).
    limit
        Most studies to return (None: the server's limit).
    """

    patient_name: str = ""
    patient_id: str = ""
    date_from: str = ""
    date_to: str = ""
    modality: str = ""
    accession: str = ""
    limit: int | None = None

    def __post_init__(self):
        for value in (self.date_from, self.date_to):
            if value and not _DATE.match(value):
                raise PacsError(f"study date {value!r} is not YYYYMMDD", hint="write dates as e.g. 20240131")

    def date_range(self) -> str:
        """The DICOM date range (``A-B``, ``A-``, ``-B`` or ``A`` when both ends are equal)."""
        if not (self.date_from or self.date_to):
            return ""
        if self.date_from and self.date_from == self.date_to:
            return self.date_from
        return f"{self.date_from}-{self.date_to}"

    def _values(self) -> dict[str, str]:
        return {"PatientName": self.patient_name, "PatientID": self.patient_id, "StudyDate": self.date_range(),
                "ModalitiesInStudy": self.modality, "AccessionNumber": self.accession}

    def qido_filters(self) -> dict[str, str]:
        """QIDO-RS ``search_filters`` (attribute keyword -> value) of the set filters."""
        return {k: v for k, v in self._values().items() if v}

    def dimse_identifier(self):
        """A C-FIND identifier (pydicom Dataset) at STUDY level with the filters and return keys."""
        from pydicom.dataset import Dataset

        identifier = Dataset()
        identifier.QueryRetrieveLevel = "STUDY"
        for keyword in STUDY_FIELDS:
            setattr(identifier, keyword, "")
        for keyword, value in self._values().items():
            setattr(identifier, keyword, value)
        return identifier


@dataclass(frozen=True)
class StudyMatch:
    """One study found on a PACS (string values as the server sent them; ``''`` when absent)."""

    study_uid: str
    patient_name: str = ""
    patient_id: str = ""
    study_date: str = ""
    accession: str = ""
    description: str = ""
    modalities: str = ""
    instances: int | None = None

    def to_dict(self) -> dict:
        """JSON-safe form (``cxr-lens pacs find --json``)."""
        return asdict(self)

    @classmethod
    def from_qido(cls, item: dict) -> StudyMatch:
        """Build from one QIDO-RS JSON result (tag keys, ``{"vr", "Value"}`` values)."""
        def value(keyword: str) -> str:
            values = item.get(STUDY_FIELDS[keyword], {}).get("Value") or []
            parts = [v.get("Alphabetic", "") if isinstance(v, dict) else str(v) for v in values]
            return "\\".join(parts)
        count = value("NumberOfStudyRelatedInstances")
        return cls(value("StudyInstanceUID"), value("PatientName"), value("PatientID"), value("StudyDate"),
                   value("AccessionNumber"), value("StudyDescription"), value("ModalitiesInStudy"),
                   int(count) if count else None)

    @classmethod
    def from_dataset(cls, dataset) -> StudyMatch:
        """Build from one C-FIND response identifier."""
        def value(keyword: str) -> str:
            item = dataset.get(keyword, "")
            return "\\".join(str(v) for v in item) if isinstance(item, (list, tuple)) or \
                type(item).__name__ == "MultiValue" else str(item)
        count = value("NumberOfStudyRelatedInstances")
        return cls(value("StudyInstanceUID"), value("PatientName"), value("PatientID"), value("StudyDate"),
                   value("AccessionNumber"), value("StudyDescription"), value("ModalitiesInStudy"),
                   int(count) if count else None)
