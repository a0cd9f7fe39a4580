"""Report sections and a negation- and uncertainty-aware labeler (spaCy + scispacy, NegEx-style rules).

Only the FINDINGS and IMPRESSION sections count (INDICATION, HISTORY, COMPARISON … describe why the
study was done, not what it shows). Each section is tokenised with scispacy's rule tokenizer,
split into sentences and scanned for mentions of each label (:mod:`engine.reports.rules`). A
mention is *negative* when a negation trigger covers it, *uncertain* when a hedge covers it,
*positive* otherwise. A trigger before a mention covers it up to a scope terminator ("but",
"however", "which", ";" …); one after it covers it back to a terminator or a comma; a negation in
scope wins over a hedge (NegEx). Phrases that only look like triggers ("no change in", "not
only") cover nothing; mentions in hypothetical context ("if …", "to exclude …") are dropped, and so are
mentions of the past or of another study ("history of pneumonia", "the nodule seen on the prior CT")
that the sentence does not say are there now (:mod:`engine.reports.context`). Per
label, positive beats uncertain beats negative. ``No Finding`` is derived: positive when the counted sections have text
and no other label is positive or uncertain.

The spaCy pipeline (``en_core_sci_sm`` when installed, else ``spacy.blank("en")`` with scispacy's
tokenizer and a sentencizer, plus scispacy's ``AbbreviationDetector``) is built on first use.
"""
from __future__ import annotations

import functools
import re
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from engine.reports import rules
from engine.reports.context import NEGATIVE, POSITIVE, UNCERTAIN, differential, mention_status, sentence_triggers
from engine.reports.labels import FINDING_NAMES, NO_FINDING

COUNTED_SECTIONS = ("findings", "impression")
_RANK = {NEGATIVE: 0, UNCERTAIN: 1, POSITIVE: 2}

# Section headings. An upper-case heading ("FINDINGS:") counts anywhere; any other case only at the
# start of a line or after a sentence end, so "compared with the prior exam: …" is not a heading.
# CONCLUSION counts as IMPRESSION; every other heading ends the counted text before it.
_HEADING_NAMES = (r"findings", r"impression", r"conclusions?", r"indications?", r"clinical (?:history|information)",
                  r"history", r"comparisons?", r"technique", r"examination", r"exam", r"reason for (?:exam|study)",
                  r"procedure")
_HEADING = re.compile(
    r"(?:\b(?P<upper>" + "|".join(n.upper() for n in _HEADING_NAMES) + r")"
    r"|(?:^|(?<=[\n.;]))[ \t]*(?P<name>(?i:" + "|".join(_HEADING_NAMES) + r")))[ \t]*:",
    re.MULTILINE,
)
_SECTION_ALIASES = {"conclusion": "impression", "conclusions": "impression"}

_MENTION_RES = {name: re.compile("|".join(f"(?:{p})" for p in pats), re.IGNORECASE)
                for name, pats in rules.MENTIONS.items()}
_EXCLUDE_RES = {name: re.compile("|".join(f"(?:{p})" for p in pats), re.IGNORECASE)
                for name, pats in rules.MENTION_EXCLUDE.items()}
_HEDGED_RES = {name: re.compile("|".join(f"(?:{p})" for p in pats), re.IGNORECASE)
                for name, pats in rules.HEDGED_MENTIONS.items()}
_CONTEXT_RES = {
    name: tuple(tuple(re.compile(p, re.IGNORECASE) for p in triple) for triple in triples)
    for name, triples in rules.MENTION_CONTEXT.items()
}


@dataclass(frozen=True)
class Section:
    """A section of a report: ``name`` (lower case) and ``[start, end)`` character offsets."""

    name: str
    start: int
    end: int


@dataclass(frozen=True)
class Evidence:
    """One mention of a label and the context that decided its status.

    ``start``/``end``, ``sentence_start``/``sentence_end`` and ``trigger_start``/``trigger_end``
    are character offsets into the text that was labelled: the whole report for
    :func:`label_text`, the section's own text for :func:`label_sections`.
    """

    label: str
    status: str
    section: str
    start: int
    end: int
    text: str
    sentence: str
    sentence_start: int
    sentence_end: int
    trigger: str | None = None
    trigger_start: int | None = None
    trigger_end: int | None = None

    def to_dict(self) -> dict:
        """Return a JSON-ready dict."""
        return dict(self.__dict__)


@dataclass(frozen=True)
class ReportLabels:
    """Labels of one report.

    Attributes
    ----------
    labels
        ``{label: "positive" | "negative" | "uncertain"}`` for the labels the report mentions,
        in :data:`engine.reports.labels.LABEL_NAMES` order, plus ``No Finding: positive`` when derived.
        Labels not mentioned are absent.
    evidence
        Every mention found, in text order.
    sections
        The sections that were read.
    """

    labels: dict[str, str]
    evidence: tuple[Evidence, ...]
    sections: tuple[Section, ...]

    def to_dict(self, report_id: str | None = None) -> dict:
        """Return ``{"id", "labels", "evidence"}`` as written by ``cxr-lens label``."""
        return {"id": report_id, "labels": dict(self.labels), "evidence": [e.to_dict() for e in self.evidence]}


def split_sections(text: str) -> tuple[Section, ...]:
    """Return the sections of a free-text report, in order.

    A text without any known heading is one ``findings`` section (a draft or a bare sentence).
    Text before the first heading is a ``preamble`` section, which is not counted.
    """
    heads = list(_HEADING.finditer(text))
    if not heads:
        return (Section("findings", 0, len(text)),) if text.strip() else ()
    sections = [Section("preamble", 0, heads[0].start())] if text[:heads[0].start()].strip() else []
    for head, nxt in zip(heads, heads[1:] + [None]):
        name = " ".join((head.group("upper") or head.group("name")).lower().split())
        start, end = head.end(), nxt.start() if nxt is not None else len(text)
        start += len(text[start:end]) - len(text[start:end].lstrip())
        end -= len(text[start:end]) - len(text[start:end].rstrip())
        sections.append(Section(_SECTION_ALIASES.get(name, name), start, end))
    return tuple(sections)


@functools.lru_cache(maxsize=1)
def _pipeline():
    """Build the spaCy pipeline once (en_core_sci_sm when installed)."""
    import spacy
    from scispacy.abbreviation import AbbreviationDetector  # noqa: F401 - registers the factory
    from scispacy.custom_tokenizer import combined_rule_tokenizer

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # scispacy's tokenizer regex, harmless
        if spacy.util.is_package("en_core_sci_sm"):
            nlp = spacy.load("en_core_sci_sm", exclude=["ner", "lemmatizer", "attribute_ruler"])
        else:
            nlp = spacy.blank("en")
            nlp.tokenizer = combined_rule_tokenizer(nlp)
            # The default punctuation plus the runs of full stops that reports contain ("effusion..").
            from spacy.pipeline.sentencizer import Sentencizer
            nlp.add_pipe("sentencizer", config={"punct_chars": [*Sentencizer.default_punct_chars, "..", "..."]})
        nlp.add_pipe("abbreviation_detector")
    return nlp


def _docs(texts: list[str], batch_size: int) -> list:
    nlp = _pipeline()
    with warnings.catch_warnings():
        # AbbreviationDetector's empty global matcher warns W036 on every document.
        warnings.filterwarnings("ignore", message=r".*\[W036\]")
        return list(nlp.pipe(texts, batch_size=batch_size))


def _in_context(label: str, mention: str, sentence: str) -> bool:
    """False for a mention whose label needs a context the sentence lacks (see MENTION_CONTEXT)."""
    for pattern, need, avoid in _CONTEXT_RES.get(label, ()):
        if pattern.fullmatch(mention) and (not need.search(sentence) or avoid.search(sentence)):
            return False
    return True


def _excluded(mentions: list[tuple[str, int, int]], sentence: str) -> list[tuple[str, int, int]]:
    """Drop mentions that lie inside a MENTION_EXCLUDE match of their label ("fractured lead")."""
    spans = {name: [m.span() for m in regex.finditer(sentence)] for name, regex in _EXCLUDE_RES.items()
             if any(m[0] == name for m in mentions)}
    return [m for m in mentions if not any(a <= m[1] and m[2] <= b for a, b in spans.get(m[0], ()))]


def _abbreviation_mentions(doc) -> list[tuple[str, int, int]]:
    """Return ``(label, start, end)`` for short forms whose defined long form is a mention."""
    found = []
    for short in doc._.abbreviations:
        long_form = short._.long_form.text
        for name, regex in _MENTION_RES.items():
            if regex.search(long_form) and not regex.search(short.text):
                found.append((name, short.start_char, short.end_char))
    return found


def _sentence_spans(doc, text: str) -> list[tuple[int, int]]:
    """``(start, end)`` character offsets of the sentences, read from the token arrays.

    Equivalent to ``[(s.start_char, s.end_char) for s in doc.sents]`` without building a Python
    object per token. ``text`` is ``doc.text``, which spaCy rebuilds from the tokens on every access.
    """
    from spacy.attrs import IDX, SENT_START

    if len(doc) == 0:
        return []
    array = doc.to_array([IDX, SENT_START])
    starts = [int(idx) for idx, flag in array.tolist() if flag == 1] or [0]
    starts[0] = int(array[0, 0])
    ends = [len(text[:nxt].rstrip()) for nxt in starts[1:]] + [len(text.rstrip())]
    return list(zip(starts, ends))


def _label_doc(doc, section: str, source: str, offset: int) -> list[Evidence]:
    evidence = []
    abbreviations = _abbreviation_mentions(doc)
    doc_text = doc.text
    for s_start, s_end in _sentence_spans(doc, doc_text):
        text = doc_text[s_start:s_end]
        mentions = [(name, m.start(), m.end()) for name, regex in _MENTION_RES.items() for m in regex.finditer(text)
                    if _in_context(name, m.group(0), text)]
        mentions += [(n, a - s_start, b - s_start) for n, a, b in abbreviations if s_start <= a and b <= s_end]
        mentions = _excluded(mentions, text) if _EXCLUDE_RES else mentions
        if not mentions:
            continue
        triggers = sentence_triggers(text, mentions)
        mentions.sort(key=lambda m: m[1])
        for index, (name, start, end) in enumerate(mentions):
            status, trig = mention_status(start, end, text, triggers, mentions)
            if status is None:
                continue
            if status == POSITIVE:
                join = differential(index, mentions, text)
                status, trig = (UNCERTAIN, join) if join else (status, trig)
            if status == POSITIVE and name in _HEDGED_RES and _HEDGED_RES[name].fullmatch(text, start, end):
                status, trig = UNCERTAIN, ("hedged", start, end)  # "nodular density": looks like a nodule
            base = offset + s_start
            evidence.append(Evidence(
                label=name, status=status, section=section, start=base + start, end=base + end,
                text=source[base + start:base + end], sentence=source[base:offset + s_end],
                sentence_start=base, sentence_end=offset + s_end,
                trigger=None if trig is None else source[base + trig[1]:base + trig[2]],
                trigger_start=None if trig is None else base + trig[1],
                trigger_end=None if trig is None else base + trig[2],
            ))
    return evidence


def _combine(evidence: list[Evidence], sections: tuple[Section, ...], has_text: bool) -> ReportLabels:
    status: dict[str, str] = {}
    for item in evidence:
        if item.label not in status or _RANK[item.status] > _RANK[status[item.label]]:
            status[item.label] = item.status
    labels = {name: status[name] for name in FINDING_NAMES if name in status}
    if has_text and not any(v in (POSITIVE, UNCERTAIN) for v in labels.values()):
        labels[NO_FINDING] = POSITIVE
    return ReportLabels(labels, tuple(sorted(evidence, key=lambda e: (COUNTED_SECTIONS.index(e.section), e.start))),
                        sections)


# A job is one report: [(section name, source text, offset of the section in the source, section text)]
_Job = list[tuple[str, str, int, str]]


def _job_from_text(text: str) -> tuple[_Job, tuple[Section, ...]]:
    sections = split_sections(text)
    return [(s.name, text, s.start, text[s.start:s.end]) for s in sections if s.name in COUNTED_SECTIONS], sections


def _job_from_sections(findings: str, impression: str) -> tuple[_Job, tuple[Section, ...]]:
    parts = [("findings", findings or ""), ("impression", impression or "")]
    return ([(name, text, 0, text) for name, text in parts if text],
            tuple(Section(name, 0, len(text)) for name, text in parts if text))


def _run(jobs: list[tuple[_Job, tuple[Section, ...]]], batch_size: int) -> list[ReportLabels]:
    flat = [(j, part) for j, (job, _) in enumerate(jobs) for part in job if part[3].strip()]
    per_job: list[list[Evidence]] = [[] for _ in jobs]
    for (j, (section, source, offset, _)), doc in zip(flat, _docs([p[3] for _, p in flat], batch_size)):
        per_job[j].extend(_label_doc(doc, section, source, offset))
    has_text = {j for j, _ in flat}
    return [_combine(per_job[j], sections, j in has_text) for j, (_, sections) in enumerate(jobs)]


def label_text(text: str) -> ReportLabels:
    """Label a free-text report; headings (``FINDINGS:``, ``IMPRESSION:`` …) select what counts.

    A text without headings is read whole as findings. Evidence offsets index ``text``.
    """
    return _run([_job_from_text(text)], batch_size=1)[0]


def label_sections(findings: str = "", impression: str = "") -> ReportLabels:
    """Label a report given as its FINDINGS and IMPRESSION text.

    Evidence offsets index the evidence's own section text (``evidence.section``).
    """
    return _run([_job_from_sections(findings, impression)], batch_size=1)[0]


def label_many(items: Iterable[str | Mapping | object], batch_size: int = 256) -> list[ReportLabels]:
    """Label many reports in one pass of the spaCy pipeline (faster than one call per report).

    Parameters
    ----------
    items
        Each a free-text report (``str``, as :func:`label_text`), a mapping with ``findings`` and
        ``impression`` keys, or an object with those attributes (e.g.
        :class:`engine.reports.openi.ReportRecord`), as :func:`label_sections`.
    batch_size
        Documents per spaCy batch.
    """
    jobs = []
    for item in items:
        if isinstance(item, str):
            jobs.append(_job_from_text(item))
        elif isinstance(item, Mapping):
            jobs.append(_job_from_sections(item.get("findings", ""), item.get("impression", "")))
        else:
            jobs.append(_job_from_sections(getattr(item, "findings", ""), getattr(item, "impression", "")))
    return _run(jobs, batch_size)
