"""Encode a DICOM object once with holes, then write it for image after image (SR and SEG templates).

highdicom builds an object in pure Python: content items constructed one by one, trees deep-copied
and searched, every element encoded by pydicom; docs/DICOM_RESULTS.md has the profile. Most of that is
the same for every image of a scan. A :class:`DatasetTemplate` is the object highdicom builds for
*placeholder* values (sentinel UIDs for the source image and the result, sentinel numbers, codes and
texts for the per-image values), encoded once with pydicom into bytes with a hole wherever a
placeholder (or a per-image attribute) sits. An image's object is those bytes with its own values
encoded into the holes with pydicom, sequence and item lengths recomputed; ``sr_template`` and
``seg_template`` say which values an SR and a SEG have.

A template serves another image when the source header holds the same value for every attribute
highdicom read while building it (they are recorded), except those filled per image: the three
source UIDs, the Patient/Study attributes highdicom copies as they are (their presence must match)
and the acquisition date/time, which feeds only the Contributing Equipment Sequence, rebuilt per
image. Dates and times of creation are the write's, as highdicom sets them. The tests check that the
result equals highdicom's own build.
"""
from __future__ import annotations

import datetime
import itertools
import struct
from dataclasses import dataclass, field
from typing import Callable

from pydicom.datadict import tag_for_keyword
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.multival import MultiValue
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import correct_ambiguous_vr_element, write_file_meta_info
from pydicom.sr.coding import Code
from pydicom.tag import Tag
from pydicom.valuerep import DA, DS, DT, TM

from engine.dicom_results import codes as c
from engine.dicom_results.template_parts import (ITEM, SQ_PREFIX, Hole, Recorder, Seq, TemplateUnsupported,
                                                 acquisition_datetime, encode_element, encode_value, hashable,
                                                 value_key)

SENTINEL_UID = c.UID_ROOT + "0."  # generated UIDs (c.result_uid) never have the component 0 after the root
SENTINEL_NUMBER = -1.0e6  # minus the slot number; no probability, threshold or OOD value is this
SENTINEL_SCHEME = "99CXRHOLE"
SOURCE_UIDS = ("SOPInstanceUID", "StudyInstanceUID", "SeriesInstanceUID")
#: read by highdicom only for the Contributing Equipment Sequence, which is rebuilt per image
ACQUISITION_TIME = tuple(Tag(tag_for_keyword(k)) for k in ("AcquisitionDateTime", "AcquisitionDate", "AcquisitionTime"))
NOW = ("InstanceCreationDate", "InstanceCreationTime", "ContentDate", "ContentTime")
CONTRIBUTING = Tag("ContributingEquipmentSequence")
MEDIA_UID = Tag("MediaStorageSOPInstanceUID")
CONTRIBUTION_TIME = Tag("ContributionDateTime")
NUMBER_KINDS = ("DS", "FD")
LENGTH = b"\x00\x00\x00\x00"  # where a sequence's or item's length goes


def source_sentinels() -> dict[str, tuple]:
    """The placeholder UIDs of the source image: ``{sentinel: ("uid", "source:<keyword>")}``."""
    return {f"{SENTINEL_UID}{n + 1}": ("uid", "source:" + k) for n, k in enumerate(SOURCE_UIDS)}


def sentinel_uids(roles: list[str]) -> dict[str, tuple]:
    """Placeholder UIDs for the result's own UIDs (after the source's): ``{sentinel: ("uid", role)}``."""
    return {f"{SENTINEL_UID}{n + 1 + len(SOURCE_UIDS)}": ("uid", role) for n, role in enumerate(roles)}


def flatten(parts: list) -> tuple[list, list]:
    """Compiled parts as one flat list of pieces (bytes and holes; a sequence's or item's length is a
    4-byte placeholder) and the lengths to write in: ``(index of the placeholder, first piece, end)``."""
    pieces: list = []
    lengths: list = []

    def add(parts: list) -> None:
        for part in parts:
            if not isinstance(part, Seq):
                pieces.append(part)
                continue
            pieces.extend((part.header, LENGTH))
            at, start = len(pieces) - 1, len(pieces)
            for item in part.items:
                pieces.extend((ITEM, LENGTH))
                item_at, item_start = len(pieces) - 1, len(pieces)
                add(item)
                lengths.append((item_at, item_start, len(pieces)))
            lengths.append((at, start, len(pieces)))

    add(parts)
    return pieces, lengths


@dataclass
class Placeholders:
    """Sentinel values in a template build and the slot each one stands for.

    ``uids``: sentinel UID -> ``("uid", role)`` (the source's roles are ``source:<keyword>``);
    ``numbers``: sentinel float -> slot (DS and FD elements with that value); ``codes``: (code value,
    scheme) -> slot (a Concept Code Sequence holding that code); ``texts``: Text Value -> slot;
    ``top``: a top-level keyword -> slot (e.g. Pixel Data), its value given as the element's value;
    ``source_values``: a source keyword -> one sentinel per value (numbers or texts): where the source
    holds that many values, highdicom is given the sentinels, every place they land is a hole filled
    with the source's own values, and only the number of values must match for the template to fit.
    """

    uids: dict
    numbers: dict = field(default_factory=dict)
    codes: dict = field(default_factory=dict)
    texts: dict = field(default_factory=dict)
    top: dict = field(default_factory=dict)
    source_values: dict = field(default_factory=dict)


class DatasetTemplate:
    """An object highdicom built with placeholders, encoded with holes; see the module docstring.

    Parameters
    ----------
    source
        The source image header (read_source).
    placeholders
        The sentinels the build uses, besides the source UIDs (:func:`source_sentinels`).
    build
        Builds the object (a highdicom dataset) from a source header; it is given a copy of
        ``source`` holding the sentinel UIDs, which records what is read.

    Raises
    ------
    TemplateUnsupported
        highdicom read the whole header, or a placeholder ended up outside a hole.
    """

    def __init__(self, source: Dataset, placeholders: Placeholders, build: Callable[[Dataset], Dataset]):
        for _ in source:  # decode every element once, so the copies below share decoded values
            pass
        self.placeholders = placeholders
        recorder = Recorder(source)
        for sentinel, (_kind, role) in source_sentinels().items():  # new elements: the source's stay as they are
            keyword = role.split(":", 1)[1]
            recorder[keyword] = DataElement(tag_for_keyword(keyword), "UI", sentinel)
        self._numbers, self._texts = dict(placeholders.numbers), dict(placeholders.texts)
        self._valued: dict = {}  # tag -> (keyword, number of values) of the source values that are holes
        for keyword, sentinels in placeholders.source_values.items():
            tag = Tag(tag_for_keyword(keyword))
            if tag in source and source[tag].VM == len(sentinels):
                value = list(sentinels) if len(sentinels) > 1 else sentinels[0]
                recorder[tag] = DataElement(tag, source[tag].VR, value)
                self._valued[tag] = (keyword, len(sentinels))
                for i, sentinel in enumerate(sentinels):
                    if isinstance(sentinel, str):
                        self._texts[sentinel] = ("src", keyword, i)
                    else:
                        self._numbers[float(sentinel)] = ("src", keyword, i)
        self._value_sentinels = {v for sentinels in placeholders.source_values.values() for v in sentinels}
        recorder.read_tags.clear()
        built = build(recorder)
        if recorder.read_all:
            raise TemplateUnsupported("highdicom read the whole source header")
        self._refuse_sentinels_in(recorder, recorder.read_tags - set(self._valued))
        self._uids = {**source_sentinels(), **placeholders.uids}
        self._top = {Tag(tag_for_keyword(k)): slot for k, slot in placeholders.top.items()}
        self._recorder = recorder
        self.charset = built.get("SpecificCharacterSet")
        self._meta_around_uid = self._file_meta_parts(built.file_meta)
        parts = self._compile(built, top=True)
        del self._recorder
        self._check_no_leak(parts)
        self._pieces, self._lengths = flatten(parts)
        source_uid_tags = {Tag(tag_for_keyword(k)) for k in SOURCE_UIDS}
        self.copied = tuple(sorted(s[1] for s in self._slots(parts) if s[0] == "copy"))
        self._signed = tuple(sorted(recorder.read_tags - source_uid_tags - set(self.copied) - set(ACQUISITION_TIME)
                                    - set(self._valued)))
        self._signature = self._signature_of(source)
        self._equipment_parts = [None if item is None else self._around_contribution_time(item)
                                 for item in self._equipment(source)]
        self._codes_encoded: dict = {}

    def _refuse_sentinels_in(self, dataset: Dataset, tags) -> None:
        """A value highdicom read from the source that equals a placeholder would be taken for a hole."""
        sentinels = {*self._numbers, *self._texts, *self._value_sentinels, *source_sentinels(), *self.placeholders.uids}
        for tag in tags:
            if tag not in dataset or tag in (Tag(tag_for_keyword(k)) for k in SOURCE_UIDS):
                continue
            element = dataset[tag]
            if element.VR == "SQ":
                for item in element.value:
                    self._refuse_sentinels_in(item, list(item.keys()))
            elif any(hashable(v) in sentinels for v in (element.value if isinstance(element.value, (list, MultiValue))
                                                          else [element.value])):
                raise TemplateUnsupported(f"the source's {element.keyword or tag} holds a placeholder value")

    @staticmethod
    def _equipment(source: Dataset) -> tuple:
        """The two Contributing Equipment items highdicom adds, without their per-write date and time."""
        import highdicom as hd

        try:  # as highdicom's SOPClass: the source's acquisition equipment when it names one, then highdicom
            acquisition = hd.ContributingEquipment.for_image_acquisition(source)
        except Exception:  # noqa: BLE001 - highdicom leaves the item out on any failure, so do we
            acquisition = None
        mine = hd.ContributingEquipment.for_highdicom()
        for item in (acquisition, mine):
            if item is not None and "ContributionDateTime" in item:
                del item.ContributionDateTime
        return acquisition, mine

    def _around_contribution_time(self, item: Dataset) -> tuple[bytes, bytes]:
        """An equipment item's elements encoded before and after where its Contribution DateTime goes."""
        encoded = [(tag, encode_element(item[tag], self.charset)) for tag in sorted(item.keys())]
        return (b"".join(e for tag, e in encoded if tag < CONTRIBUTION_TIME),
                b"".join(e for tag, e in encoded if tag > CONTRIBUTION_TIME))

    def _contributing(self, source: Dataset, now: datetime.datetime) -> bytes:
        """The Contributing Equipment Sequence as highdicom writes it: the source's acquisition equipment
        (when it names one) at its acquisition date and time, then highdicom's, now."""
        acquisition, mine = self._equipment_parts
        items = [] if acquisition is None else [(acquisition, acquisition_datetime(source))]
        body = []
        for (before, after), when in items + [(mine, now)]:
            time = b"" if when is None else encode_element(DataElement(CONTRIBUTION_TIME, "DT", DT(when)), self.charset)
            item = before + time + after
            body.append(ITEM + struct.pack("<I", len(item)) + item)
        body = b"".join(body)
        return struct.pack("<HH", CONTRIBUTING.group, CONTRIBUTING.element) + SQ_PREFIX + struct.pack("<I", len(body)) + body

    def _signature_of(self, source: Dataset) -> tuple:
        return (tuple(value_key(source, tag) for tag in self._signed), tuple(tag in source for tag in self.copied),
                tuple(source[tag].VM if tag in source else None for tag in self._valued))

    def fits(self, source: Dataset) -> bool:
        """True when ``source`` gives highdicom the same values as the template's source did."""
        return self._signature_of(source) == self._signature

    @staticmethod
    def _file_meta_parts(file_meta: FileMetaDataset) -> tuple[bytes, bytes]:
        """The file meta group as pydicom writes it, split around its Media Storage SOP Instance UID element
        and without its group length (both depend on the UID)."""
        meta = FileMetaDataset(file_meta)
        meta.MediaStorageSOPInstanceUID = SENTINEL_UID + "9"
        fp = DicomBytesIO()
        fp.is_little_endian, fp.is_implicit_VR = True, False
        write_file_meta_info(fp, meta, enforce_standard=True)
        group = fp.getvalue()[12:]  # after (0002,0000) UL, 12 bytes
        uid = encode_value(MEDIA_UID, "UI", meta.MediaStorageSOPInstanceUID)
        before, after = group.split(uid)
        return before, after

    # -- compiling ---------------------------------------------------------------------------------
    def _hole(self, element, top: bool) -> Hole | None:
        tag, vr, value = element.tag, element.VR, element.value
        p = self.placeholders
        slot = None
        if vr == "UI" and isinstance(value, str) and value in self._uids:
            slot = self._uids[value]
        elif top and tag in self._top:
            slot = self._top[tag]
        elif top and tag == CONTRIBUTING:
            slot = ("contributing",)
        elif top and element.keyword in NOW:
            slot = ("now", element.keyword)
        elif top and self._recorder._dict.get(tag) is element:
            slot = ("copy", tag)
        elif vr in NUMBER_KINDS and isinstance(value, (int, float)) and float(value) in self._numbers:
            slot = self._numbers[float(value)] + (vr,)
        elif element.keyword == "ConceptCodeSequence" and len(value) == 1 and \
                (value[0].get("CodeValue"), value[0].get("CodingSchemeDesignator")) in p.codes:
            slot = p.codes[(value[0].CodeValue, value[0].CodingSchemeDesignator)]
        elif element.keyword == "TextValue" and value in self._texts:
            slot = self._texts[value]
        if slot is None and vr != "SQ" and any(v in self._value_sentinels for v in
                                               (value if isinstance(value, (list, MultiValue)) else [value])):
            raise TemplateUnsupported(f"a source value placeholder sits in {element.keyword or tag}, outside the holes")
        return None if slot is None else Hole(slot, tag, vr)

    def _compile(self, dataset: Dataset, top: bool = False) -> list:
        parts: list = []
        for tag in sorted(dataset.keys()):
            if tag.element == 0 and tag.group > 6:  # retired group lengths are not written (as pydicom)
                continue
            element = dataset[tag]
            if " or " in element.VR:  # e.g. Pixel Data's "OB or OW": resolved as pydicom resolves it on writing
                element = correct_ambiguous_vr_element(element, dataset, True)
            hole = self._hole(element, top)
            if hole is not None:
                parts.append(hole)
                continue
            encoded = None
            if element.VR == "SQ":
                items = [self._compile(item) for item in element.value]
                undefined = element.is_undefined_length or any(
                    item.is_undefined_length_sequence_item for item in element.value)
                node = Seq(struct.pack("<HH", tag.group, tag.element) + SQ_PREFIX, items)
                if any(not isinstance(p, bytes) for item in items for p in item):
                    if undefined:
                        raise TemplateUnsupported(f"sequence {tag} of undefined length holds a placeholder")
                    parts.append(node)
                    continue
                if not undefined:  # its items are encoded already: frame them as pydicom does
                    encoded = b"".join(self._assemble(*flatten([node]), {}, Dataset()))
            encoded = encoded if encoded is not None else encode_element(element, self.charset)
            if parts and isinstance(parts[-1], bytes):
                parts[-1] += encoded
            else:
                parts.append(encoded)
        return parts

    def _slots(self, parts: list):
        for part in parts:
            if isinstance(part, Hole):
                yield part.slot
            elif isinstance(part, Seq):
                for item in part.items:
                    yield from self._slots(item)

    def _check_no_leak(self, parts: list) -> None:
        markers = [SENTINEL_UID.encode(), SENTINEL_SCHEME.encode(), b"-100000"] + \
            [t.encode() for t in self._texts] + [struct.pack("<d", n) for n in self._numbers]
        for part in parts:
            if isinstance(part, bytes) and any(m in part for m in markers):
                raise TemplateUnsupported("a placeholder value sits outside the holes")
            if isinstance(part, Seq):
                for item in part.items:
                    self._check_no_leak(item)

    # -- filling -----------------------------------------------------------------------------------
    def _fill(self, hole: Hole, values: dict, source: Dataset, memo: dict) -> bytes:
        kind = hole.slot[0]
        if kind == "copy":
            return encode_element(source[hole.tag], self.charset)
        if kind == "contributing":  # encoded whole by _contributing
            return values[hole.slot]
        is_number = hole.vr in NUMBER_KINDS and hole.slot[-1] == hole.vr
        value = values[hole.slot[:-1] if is_number else hole.slot]
        if isinstance(value, Code):
            return self._code_bytes(hole.tag, value)
        key = (hole.tag, hole.vr, hole.slot)  # a source UID sits in every group: encode it once
        if key not in memo:
            value = DS(value, auto_format=True) if hole.vr == "DS" else value
            memo[key] = encode_value(hole.tag, hole.vr, value) or encode_element(DataElement(hole.tag, hole.vr, value),
                                                                         self.charset)
        return memo[key]

    def _code_bytes(self, tag, code: Code) -> bytes:
        import highdicom as hd

        if (tag, code) not in self._codes_encoded:
            element = DataElement(tag, "SQ", [hd.sr.CodedConcept.from_code(code)])
            self._codes_encoded[(tag, code)] = encode_element(element, self.charset)
        return self._codes_encoded[(tag, code)]

    def _assemble(self, pieces: list, lengths: list, values: dict, source: Dataset) -> list:
        """``pieces`` (see :func:`flatten`) with the holes filled and the lengths written in."""
        memo: dict = {}
        out = [self._fill(p, values, source, memo) if isinstance(p, Hole) else p for p in pieces]
        offsets = list(itertools.accumulate(map(len, out), initial=0))
        for at, start, end in lengths:
            out[at] = struct.pack("<I", offsets[end] - offsets[start])
        return out

    def fill(self, source: Dataset, values: dict, sop_instance_uid: str) -> list[bytes]:
        """The file (preamble, file meta, data set) for ``source`` with ``values`` (slot -> value), as
        byte strings to write one after another (a large Pixel Data is not copied into one string)."""
        now = datetime.datetime.now()
        own = {("src", keyword, i): v for tag, (keyword, count) in self._valued.items()
               for i, v in enumerate(source[tag].value if count > 1 else [source[tag].value])}
        values = {**values, **own, **{("uid", "source:" + k): str(source[k].value) for k in SOURCE_UIDS},
                  **{("now", k): DA(now.date()) if k.endswith("Date") else TM(now.time()) for k in NOW},
                  ("contributing",): self._contributing(source, now)}
        before, after = self._meta_around_uid
        group = before + encode_value(MEDIA_UID, "UI", sop_instance_uid) + after
        head = b"".join((b"\x00" * 128, b"DICM", struct.pack("<HH2sHI", 2, 0, b"UL", 4, len(group)), group))
        return [head, *self._assemble(self._pieces, self._lengths, values, source)]
