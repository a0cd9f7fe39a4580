"""The pieces of :mod:`engine.dicom_results.template`: the recording source header, the encoders
(byte for byte as pydicom writes), the compiled parts (bytes, holes, sequences) and the cache."""
from __future__ import annotations

import copy
import datetime
import io
import struct
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Callable

from pydicom.datadict import tag_for_keyword
from pydicom.dataset import Dataset
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_data_element
from pydicom.tag import Tag

MAX_TEMPLATES = 64  # per cache and process; a scan of one archive needs a handful
ITEM, SQ_PREFIX = b"\xfe\xff\x00\xe0", b"SQ\x00\x00"


class TemplateUnsupported(Exception):
    """The object cannot be made from a template (e.g. a placeholder ended up outside a hole); build it in full."""


class Recorder(Dataset):
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

    def __deepcopy__(self, memo):
        self.read_all = True
        return copy.deepcopy(Dataset(dict(self._dict)), memo)


def _reading_everything(name: str):
    """The Dataset method ``name``, marking that every value of the header was read (iterated or copied)."""
    def method(self, *args, **kwargs):
        self.read_all = True
        return getattr(Dataset, name)(self, *args, **kwargs)
    return method


for _name in ("__iter__", "keys", "items", "values", "elements", "iterall"):
    setattr(Recorder, _name, _reading_everything(_name))


@dataclass
class Hole:
    slot: tuple
    tag: int
    vr: str


@dataclass
class Seq:
    header: bytes
    items: list


def hashable(value):
    try:
        hash(value)
    except TypeError:
        return None
    return value


def value_key(source: Dataset, tag) -> tuple | None:
    return (source[tag].VR, repr(source[tag].value)) if tag in source else None


def acquisition_datetime(source: Dataset):
    """The acquisition date and time as highdicom's ``ContributingEquipment.for_image_acquisition`` reads them."""
    when = source.get("AcquisitionDateTime")
    if when is None:
        date, time = source.get("AcquisitionDate"), source.get("AcquisitionTime")
        if isinstance(date, datetime.date) and isinstance(time, datetime.time):
            when = datetime.datetime.combine(date, time)
    return when


def encode_value(tag, vr: str, value) -> bytes | None:
    """A UI, DS, FD or OB element in explicit VR little endian, byte for byte as pydicom's writer encodes
    it (its per-element overhead was most of a template fill; for Pixel Data, its two copies); None for
    other VRs."""
    if vr == "OB":  # value: bytes or a byte memoryview, copied once
        pad = b"\x00" * (len(value) % 2)
        return struct.pack("<HH2sHI", tag >> 16, tag & 0xFFFF, b"OB", 0, len(value) + len(pad)) + value + pad
    if vr == "UI":
        data = str(value).encode("ascii")
        data += b"\x00" * (len(data) % 2)
    elif vr == "DS":
        text = value.original_string if hasattr(value, "original_string") else str(value)
        data = (text + " " * (len(text) % 2)).encode("ascii")
    elif vr == "FD":
        data = struct.pack("<d", value)
    else:
        return None
    return struct.pack("<HH2sH", tag >> 16, tag & 0xFFFF, vr.encode(), len(data)) + data


def encode_element(element, encodings) -> bytes:
    fp = DicomBytesIO()
    fp.is_little_endian, fp.is_implicit_VR = True, False
    write_data_element(fp, element, encodings)
    return fp.getvalue()


def dataset_bytes(dataset) -> bytes:
    """The file highdicom's dataset is saved as (preamble, file meta, data set)."""
    buffer = io.BytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


class TemplateCache:
    """Templates by key, each tried against the source (``template.fits(source)``); bounded in size."""

    def __init__(self):
        self._templates: OrderedDict[tuple, list] = OrderedDict()
        self._lock = threading.Lock()  # the viewer writes from worker threads

    def get(self, key: tuple, source: Dataset, make: Callable[[], Any]):
        """The cached template for ``key`` that fits ``source``, else ``make()``'s, kept."""
        with self._lock:
            return self._get(key, source, make)

    def _get(self, key: tuple, source: Dataset, make: Callable[[], Any]):
        templates = self._templates.setdefault(key, [])
        self._templates.move_to_end(key)
        template = next((t for t in templates if t.fits(source)), None)
        if template is None:
            template = make()
            templates.append(template)
            while len(self) > MAX_TEMPLATES:
                oldest = next(iter(self._templates.values()))
                oldest.pop(0)
                if not oldest:
                    self._templates.popitem(last=False)
        return template

    def count(self, key: tuple | None = None) -> int:
        """How many templates are kept (for ``key``, or in all)."""
        return len(self._templates.get(key, ())) if key is not None else len(self)

    def __len__(self) -> int:
        return sum(len(t) for t in self._templates.values())

    def clear(self) -> None:
        """Forget every template."""
        self._templates.clear()
