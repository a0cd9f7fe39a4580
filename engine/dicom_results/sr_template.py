"""Write the TID 1500 SR fast: one highdicom build per pack and kind of image, reused as a template.

Building the SR with highdicom costs several predictions per image (pure Python: ~700 content items
constructed, the tree deep-copied, searched for evidence and encoded; docs/DICOM_RESULTS.md has the
profile). Most of it is the same for every image of a scan. :class:`SrTemplate` is the SR that
:func:`engine.dicom_results.sr.build_sr_from` (highdicom) builds for *placeholder* values: sentinel
UIDs for the source image, the SR, its series and the tracking identifiers; sentinel numbers for the
probabilities, thresholds and out-of-distribution values; sentinel codes for the Present/Absent and
gate-issue evaluations; sentinel texts for the gate messages. It is encoded once with pydicom into
bytes, leaving a hole wherever a sentinel (or a per-image attribute) sits; an image's SR is those
bytes with its own values encoded into the holes with pydicom, sequence and item lengths recomputed.

A template serves another image when the key matches (pack, input mode, gate verdict, number of gate
issues, which OOD values are present, label names) and the source header holds the same value for
every attribute highdicom read while building it (they are recorded), except those filled per image:
the three source UIDs, the Patient/Study attributes highdicom copies as they are (their presence must
match) and the acquisition date/time, which only feeds the Contributing Equipment Sequence, rebuilt
per image with highdicom. Dates and times of creation are the write's, as highdicom sets them.
tests/engine/test_dicom_results_template.py checks that the result equals highdicom's own build.
"""
from __future__ import annotations

import copy
import datetime
import io
import logging
import struct
from collections import OrderedDict
from dataclasses import dataclass

from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.datadict import tag_for_keyword
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_data_element, write_file_meta_info
from pydicom.sr.coding import Code
from pydicom.tag import Tag
from pydicom.valuerep import DA, DS, DT, TM

from engine.dicom_results import codes as c
from engine.dicom_results.source import Algorithm, Analysis
from engine.dicom_results.sr import build_sr_from, decision_code, gate_message, result_uids

log = logging.getLogger(__name__)

SENTINEL_UID = c.UID_ROOT + "0."  # generated UIDs (c.result_uid) never have the component 0 after the root
SENTINEL_NUMBER = -1.0e6  # minus the slot number; no probability, threshold or OOD value is this
SENTINEL_SCHEME = "99CXRHOLE"
SOURCE_UIDS = ("SOPInstanceUID", "StudyInstanceUID", "SeriesInstanceUID")
#: read by highdicom only for the Contributing Equipment Sequence, which is rebuilt per image
ACQUISITION_TIME = tuple(Tag(tag_for_keyword(k)) for k in ("AcquisitionDateTime", "AcquisitionDate", "AcquisitionTime"))
NOW = ("InstanceCreationDate", "InstanceCreationTime", "ContentDate", "ContentTime")
CONTRIBUTING = Tag("ContributingEquipmentSequence")
MAX_TEMPLATES = 64  # per process; a scan of one archive needs a handful
_ITEM, _SQ_PREFIX = b"\xfe\xff\x00\xe0", b"SQ\x00\x00"


class TemplateUnsupported(Exception):
    """The SR cannot be made from a template (e.g. a placeholder ended up outside a hole); build it in full."""


class _Recorder(Dataset):
    """A copy of the source header that records which attributes are read (the template depends on them)."""

    def __init__(self, source: Dataset):
        super().__init__(dict(source._dict))
        self.read_tags: set = set()
        self.read_all = False

    def __getitem__(self, key):
        if isinstance(key, int):
            self.read_tags.add(Tag(key))
        return super().__getitem__(key)

    def __getattr__(self, name):
        tag = tag_for_keyword(name)
        if tag is not None:
            self.read_tags.add(Tag(tag))
        return super().__getattr__(name)

    def __contains__(self, name) -> bool:
        tag = tag_for_keyword(name) if isinstance(name, str) else name
        if tag is not None:
            self.read_tags.add(Tag(tag))
        return super().__contains__(name)

    def _everything(self, *args, **kwargs):  # iterating or copying the header: every value counts
        self.read_all = True

    def __iter__(self):
        self._everything()
        return super().__iter__()

    def __deepcopy__(self, memo):
        self._everything()
        return copy.deepcopy(Dataset(dict(self._dict)), memo)

    def keys(self):
        self._everything()
        return super().keys()

    def items(self):
        self._everything()
        return super().items()

    def values(self):
        self._everything()
        return super().values()


@dataclass
class _Hole:
    slot: tuple
    tag: int
    vr: str


@dataclass
class _Seq:
    header: bytes
    items: list


def _value_key(source: Dataset, tag) -> tuple | None:
    return (source[tag].VR, repr(source[tag].value)) if tag in source else None


def _acquisition_datetime(source: Dataset):
    """The acquisition date and time as highdicom's ``ContributingEquipment.for_image_acquisition`` reads them."""
    when = source.get("AcquisitionDateTime")
    if when is None:
        date, time = source.get("AcquisitionDate"), source.get("AcquisitionTime")
        if isinstance(date, datetime.date) and isinstance(time, datetime.time):
            when = datetime.datetime.combine(date, time)
    return when


def template_key(analysis: Analysis, algorithm: Algorithm) -> tuple:
    """What the structure of an SR depends on besides the source header."""
    gate = analysis.gate or {"status": "pass", "issues": []}
    labels = () if analysis.refused else tuple(f[0] for f in analysis.findings)
    return (algorithm, analysis.mode, gate["status"], len(gate.get("issues", [])),
            tuple(gate.get(k) is not None for k in ("ood_score", "ood_threshold")), labels)


def _placeholders(analysis: Analysis) -> tuple[Analysis, dict, dict, dict, dict]:
    """The analysis with sentinels, and the maps sentinel -> slot for UIDs, numbers, codes and texts."""
    gate = dict(analysis.gate or {"status": "pass", "issues": []})
    numbers, codes, texts = {}, {}, {}
    findings = []
    for i, finding in enumerate(analysis.findings):
        numbers[SENTINEL_NUMBER - 2 * i] = ("p", i)
        numbers[SENTINEL_NUMBER - 2 * i - 1] = ("t", i)
        findings.append((finding[0], SENTINEL_NUMBER - 2 * i, SENTINEL_NUMBER - 2 * i - 1, False))
        codes[(f"D{i}", SENTINEL_SCHEME)] = ("decision", i)
    for j, key in enumerate(("ood_score", "ood_threshold")):
        if gate.get(key) is not None:
            gate[key] = SENTINEL_NUMBER - 2 * len(findings) - j
            numbers[gate[key]] = (key,)
    gate["issues"] = [{"code": f"hole{j}", "severity": "hole", "message": str(j)} for j in range(len(gate.get("issues", [])))]
    for j, issue in enumerate(gate["issues"]):
        issue_code = c.gate_issue_code(issue["code"])
        codes[(issue_code.value, issue_code.scheme_designator)] = ("issue", j)
        texts[gate_message(issue)] = ("message", j)
    roles = ["source:" + k for k in SOURCE_UIDS] + ["sr", "series", "track:analysis"] + \
        [f"track:{f[0]}" for f in analysis.findings]
    uids = {f"{SENTINEL_UID}{n + 1}": ("uid", role) for n, role in enumerate(roles)}
    return Analysis(analysis.mode, tuple(findings), gate), uids, numbers, codes, texts


def _encode(element, encodings) -> bytes:
    fp = DicomBytesIO()
    fp.is_little_endian, fp.is_implicit_VR = True, False
    write_data_element(fp, element, encodings)
    return fp.getvalue()


def _dataset_bytes(dataset) -> bytes:
    buffer = io.BytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


class SrTemplate:
    """One SR built by highdicom with placeholders, encoded with holes; see the module docstring."""

    def __init__(self, source: Dataset, analysis: Analysis, algorithm: Algorithm):
        for _ in source:  # decode every element once, so the copies below share decoded values
            pass
        placeholder, self._uids, self._numbers, self._codes, self._texts = _placeholders(analysis)
        recorder = _Recorder(source)
        sentinel_of = {role: uid for uid, (_kind, role) in self._uids.items()}
        for keyword in SOURCE_UIDS:  # new elements: the source's own stay as they are
            recorder[keyword] = DataElement(tag_for_keyword(keyword), "UI", sentinel_of["source:" + keyword])
        recorder.read_tags.clear()
        sentinels = {f[0]: Code(f"D{i}", SENTINEL_SCHEME, "placeholder") for i, f in enumerate(placeholder.findings)}
        sr = build_sr_from(recorder, placeholder, algorithm, {role: sentinel_of[role] for role in sentinel_of
                                                              if not role.startswith("source:")},
                           lambda finding: sentinels[finding[0]])
        if recorder.read_all:
            raise TemplateUnsupported("highdicom read the whole source header")
        self._recorder = recorder
        self.charset = sr.get("SpecificCharacterSet")
        self.file_meta = FileMetaDataset(sr.file_meta) if hasattr(sr, "file_meta") else None
        self._parts = self._compile(sr, top=True)
        self._check_no_leak()
        source_uid_tags = {Tag(tag_for_keyword(k)) for k in SOURCE_UIDS}
        self.copied = tuple(sorted(s[1] for s in self._slots() if s[0] == "copy"))
        signed = sorted(recorder.read_tags - source_uid_tags - set(self.copied) - set(ACQUISITION_TIME))
        self._signed = tuple(signed)
        self._signature = self._signature_of(source)
        del self._recorder
        self._acquisition, self._highdicom = self._equipment(source)
        self._codes_encoded: dict = {}

    @staticmethod
    def _equipment(source: Dataset) -> tuple:
        """The two Contributing Equipment items highdicom adds, without their per-write date and time."""
        import highdicom as hd

        try:  # as highdicom's SOPClass: the source's acquisition equipment when it names one, then highdicom
            acquisition = hd.ContributingEquipment.for_image_acquisition(source)
        except Exception:  # noqa: BLE001 - highdicom leaves the item out on any failure, so do we
            acquisition = None
        items = [item for item in (acquisition, hd.ContributingEquipment.for_highdicom()) if item is not None]
        for item in items:
            if "ContributionDateTime" in item:
                del item.ContributionDateTime
        return (acquisition and items[0]), items[-1]

    def _contributing(self, source: Dataset, now: datetime.datetime) -> list:
        items = []
        if self._acquisition is not None:
            items.append(Dataset(dict(self._acquisition._dict)))
            when = _acquisition_datetime(source)
            if when is not None:
                items[0].ContributionDateTime = DT(when)
        items.append(Dataset(dict(self._highdicom._dict)))
        items[-1].ContributionDateTime = DT(now)
        return items

    def _signature_of(self, source: Dataset) -> tuple:
        return (tuple(_value_key(source, tag) for tag in self._signed), tuple(tag in source for tag in self.copied))

    def fits(self, source: Dataset) -> bool:
        """True when ``source`` gives highdicom the same values as the template's source did."""
        return self._signature_of(source) == self._signature

    # -- compiling ---------------------------------------------------------------------------------
    def _hole(self, element, top: bool) -> _Hole | None:
        tag, vr, value = element.tag, element.VR, element.value
        slot = None
        if vr == "UI" and isinstance(value, str) and value in self._uids:
            slot = self._uids[value]
        elif top and tag == CONTRIBUTING:
            slot = ("contributing",)
        elif top and element.keyword in NOW:
            slot = ("now", element.keyword)
        elif top and self._recorder._dict.get(tag) is element:
            slot = ("copy", tag)
        elif vr in ("DS", "FD") and not isinstance(value, (list, tuple)) and value not in (None, "") \
                and float(value) in self._numbers:
            slot = self._numbers[float(value)] + (vr,)
        elif element.keyword == "ConceptCodeSequence" and len(value) == 1 and \
                (value[0].get("CodeValue"), value[0].get("CodingSchemeDesignator")) in self._codes:
            slot = self._codes[(value[0].CodeValue, value[0].CodingSchemeDesignator)]
        elif element.keyword == "TextValue" and value in self._texts:
            slot = self._texts[value]
        return None if slot is None else _Hole(slot, tag, vr)

    def _compile(self, dataset: Dataset, top: bool = False) -> list:
        parts: list = []
        for tag in sorted(dataset.keys()):
            if tag.element == 0 and tag.group > 6:  # retired group lengths are not written (as pydicom)
                continue
            element = dataset[tag]
            hole = self._hole(element, top)
            if hole is not None:
                parts.append(hole)
                continue
            if element.VR == "SQ":
                items = [self._compile(item) for item in element.value]
                if any(not isinstance(p, bytes) for item in items for p in item):
                    if element.is_undefined_length or any(i.is_undefined_length_sequence_item for i in element.value):
                        raise TemplateUnsupported(f"sequence {tag} of undefined length holds a placeholder")
                    parts.append(_Seq(struct.pack("<HH", tag.group, tag.element) + _SQ_PREFIX, items))
                    continue
            encoded = _encode(element, self.charset)
            if parts and isinstance(parts[-1], bytes):
                parts[-1] += encoded
            else:
                parts.append(encoded)
        return parts

    def _slots(self, parts=None):
        for part in self._parts if parts is None else parts:
            if isinstance(part, _Hole):
                yield part.slot
            elif isinstance(part, _Seq):
                for item in part.items:
                    yield from self._slots(item)

    def _check_no_leak(self, parts=None) -> None:
        markers = [SENTINEL_UID.encode(), SENTINEL_SCHEME.encode(), b"-100000"] + \
            [t.encode() for t in self._texts] + [struct.pack("<d", n) for n in self._numbers]
        for part in self._parts if parts is None else parts:
            if isinstance(part, bytes) and any(m in part for m in markers):
                raise TemplateUnsupported("a placeholder value sits outside the holes")
            if isinstance(part, _Seq):
                for item in part.items:
                    self._check_no_leak(item)

    # -- filling -----------------------------------------------------------------------------------
    def _values(self, source: Dataset, analysis: Analysis, uids: dict[str, str]) -> dict:
        values = {("uid", role): uid for role, uid in uids.items()}
        values.update({("uid", "source:" + k): str(source[k].value) for k in SOURCE_UIDS})
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
        now = datetime.datetime.now()
        values.update({("now", k): DA(now.date()) if k.endswith("Date") else TM(now.time()) for k in NOW})
        values[("contributing",)] = self._contributing(source, now)
        return values

    def _fill(self, hole: _Hole, values: dict, source: Dataset) -> bytes:
        kind = hole.slot[0]
        if kind == "copy":
            return _encode(source[hole.tag], self.charset)
        value = values[hole.slot[:-1] if kind in ("p", "t", "ood_score", "ood_threshold") else hole.slot]
        if kind in ("decision", "issue"):
            return self._code_bytes(hole.tag, value)
        memo = values.setdefault("encoded", {})  # a source UID sits in every group: encode it once
        key = (hole.tag, hole.vr, hole.slot)
        if key not in memo:
            memo[key] = _encode(DataElement(hole.tag, hole.vr, DS(value, auto_format=True) if hole.vr == "DS"
                                            else value), self.charset)
        return memo[key]

    def _code_bytes(self, tag, code: Code) -> bytes:
        import highdicom as hd

        if (tag, code) not in self._codes_encoded:
            self._codes_encoded[(tag, code)] = _encode(DataElement(tag, "SQ", [hd.sr.CodedConcept.from_code(code)]),
                                                       self.charset)
        return self._codes_encoded[(tag, code)]

    def _emit(self, parts: list, values: dict, source: Dataset) -> bytes:
        out = []
        for part in parts:
            if isinstance(part, bytes):
                out.append(part)
            elif isinstance(part, _Hole):
                out.append(self._fill(part, values, source))
            else:
                body = b"".join(_ITEM + struct.pack("<I", len(item)) + item
                                for item in (self._emit(i, values, source) for i in part.items))
                out.append(part.header + struct.pack("<I", len(body)) + body)
        return b"".join(out)

    def fill(self, source: Dataset, analysis: Analysis, algorithm: Algorithm) -> bytes:
        """The SR file (preamble, file meta, data set) of ``analysis`` on ``source``."""
        uids = result_uids(source, analysis, algorithm)
        body = self._emit(self._parts, self._values(source, analysis, uids), source)
        meta = FileMetaDataset(self.file_meta)
        meta.MediaStorageSOPInstanceUID = uids["sr"]
        fp = DicomBytesIO()
        fp.is_little_endian, fp.is_implicit_VR = True, False
        write_file_meta_info(fp, meta, enforce_standard=True)
        return b"\x00" * 128 + b"DICM" + fp.getvalue() + body


_TEMPLATES: OrderedDict[tuple, list[SrTemplate]] = OrderedDict()


def sr_file_bytes(source: Dataset, analysis: Analysis, algorithm: Algorithm) -> bytes:
    """The SR file of ``analysis`` on the ``source`` header (:func:`engine.dicom_results.source.read_source`).

    From a cached template when one fits, else from a new template (kept for the next images), else
    (a template cannot be made) from highdicom's full build.
    """
    key = template_key(analysis, algorithm)
    templates = _TEMPLATES.setdefault(key, [])
    _TEMPLATES.move_to_end(key)
    try:
        template = next((t for t in templates if t.fits(source)), None)
        if template is None:
            template = SrTemplate(source, analysis, algorithm)
            templates.append(template)
            while sum(len(t) for t in _TEMPLATES.values()) > MAX_TEMPLATES:
                oldest = next(iter(_TEMPLATES.values()))
                oldest.pop(0)
                if not oldest:
                    _TEMPLATES.popitem(last=False)
        return template.fill(source, analysis, algorithm)
    except (TemplateUnsupported, ValueError, TypeError, KeyError) as error:  # the full build says what is wrong
        log.info("SR built in full by highdicom, no template: %s", error)
        return _dataset_bytes(build_sr_from(source, analysis, algorithm, result_uids(source, analysis, algorithm),
                                            decision_code))


def cached_templates() -> int:
    """How many templates this process holds (for tests and the benchmark)."""
    return sum(len(t) for t in _TEMPLATES.values())
