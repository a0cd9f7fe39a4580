"""Report sections and a negation- and uncertainty-aware labeler (spaCy + scispacy, NegEx-style rules).

Only the FINDINGS and IMPRESSION sections count (INDICATION, HISTORY, COMPARISON … describe why the
study was done, not what it shows). Each section is tokenised with scispacy's rule tokenizer,
split into sentences and scanned for mentions of each label (:mod:`engine.reports.rules`). A
mention is *negative* when a negation trigger covers it, *uncertain* when a hedge covers it,
*positive* otherwise. A trigger before a mention covers it up to a scope terminator ("but",
"however", "which", ";" …); one after it covers it back to a terminator or a comma; a negation in
scope wins over a hedge (NegEx). Phrases that only look like triggers ("no change in", "not
only") cover nothing; mentions in hypothetical context ("if …", "to exclude …") are dropped. Per
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

from engine.reports.labels import FINDING_NAMES, NO_FINDING
from engine.reports import rules

POSITIVE, NEGATIVE, UNCERTAIN = "positive", "negative", "uncertain"
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


def _alternation(patterns: Iterable[str]) -> str:
    """Join trigger patterns longest first; word-like ones must start and end at word boundaries.

    The word-like alternatives share one boundary check, so the engine tries them only where a
    word starts (much faster than a boundary per alternative).
    """
    ordered = sorted(patterns, key=len, reverse=True)
    words = [p for p in ordered if p[:1].isalpha() or p[:1] == "("]
    others = [p for p in ordered if p not in words]
    parts = [r"(?<![\w-])(?:" + "|".join(words) + r")(?![\w-])"] if words else []
    return "|".join(parts + others)


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
_TRIGGER_KINDS = {
    "pseudo": rules.PSEUDO, "pre_neg": rules.PRE_NEGATION, "post_neg": rules.POST_NEGATION,
    "pre_unc": rules.PRE_UNCERTAIN, "post_unc": rules.POST_UNCERTAIN, "hypo": rules.HYPOTHETICAL,
    "term": rules.TERMINATORS, "hist_pre": rules.HISTORY_PRE, "hist_post": rules.HISTORY_POST,
    "current": rules.CURRENT, "assert": rules.ASSERTIONS, "attached": rules.ATTACHED_NEGATION,
    "mimic_neg": rules.MIMIC_NEGATION, "mimic_unc": rules.MIMIC_UNCERTAIN,
}
_SCOPED = ("pre_neg", "post_neg", "pre_unc", "post_unc", "hypo")
_CUES = ("hist_pre", "hist_post", "current", "assert", "attached", "mimic_neg", "mimic_unc")
_TRIGGER_RES = {kind: re.compile(_alternation(pats), re.IGNORECASE) for kind, pats in _TRIGGER_KINDS.items()}
_POST_STOP = re.compile(r",")
_HISTORY_STOP = re.compile(rules.HISTORY_STOP, re.IGNORECASE)
_NEGATED_GENERIC = re.compile(rules.NEGATED_GENERIC, re.IGNORECASE)
_JOIN = re.compile(rules.DIFFERENTIAL_JOIN, re.IGNORECASE)
_JOIN_WORD = re.compile(r"(?<![\w-])(?:and/or|or|versus|vs\.?)(?![\w-])|/", re.IGNORECASE)


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


def _overlaps(a: tuple[str, int, int], b: tuple[str, int, int]) -> bool:
    return a[1] < b[2] and b[1] < a[2]


def _triggers(sentence: str, mentions: list[tuple[str, int, int]] = ()) -> list[tuple[str, int, int]]:
    """Return ``(kind, start, end)`` triggers and cues of a sentence, in order.

    Pseudo-triggers mask the triggers they overlap, unless they overlap a mention ("no cardiac
    enlargement" negates); among scoped triggers the longest match wins ("cannot exclude" over
    "not"), the same span may be of several kinds ("versus" is pre and post); a terminator inside
    a kept trigger ("there are no") is dropped. Cues (history, current, assertion, attached
    negation, mimic) are
    returned as found, less those a pseudo-trigger masks; they may overlap anything.
    """
    found = {kind: [(kind, m.start(), m.end()) for m in regex.finditer(sentence)]
             for kind, regex in _TRIGGER_RES.items()}
    pseudo = [p for p in found["pseudo"] if not any(_overlaps(p, m) for m in mentions)]
    candidates = [t for kind in _SCOPED + _CUES for t in found[kind] if not any(_overlaps(t, p) for p in pseudo)]
    cues = [t for t in candidates if t[0] in _CUES]
    candidates = [t for t in candidates if t[0] not in _CUES]
    candidates.sort(key=lambda t: (t[1] - t[2], t[1]))  # longest first
    kept: list[tuple[str, int, int]] = []
    for trig in candidates:
        if all((k[1], k[2]) == (trig[1], trig[2]) or not _overlaps(k, trig) for k in kept):
            kept.append(trig)
    kept += [t for t in found["term"] if not any(_overlaps(t, k) for k in kept)]
    return sorted(kept + cues, key=lambda t: t[1])


def _asserted_between(neg, start: int, sentence: str, triggers, mentions) -> bool:
    """True when an assertion ends an attached negation's scope before the mention at ``start``.

    "lucency without lung markings consistent with pneumothorax": "without" modifies "lucency",
    negates no finding, and "consistent with" asserts the pneumothorax (see rules.ASSERTIONS).
    """
    if not re.search(r"\w", sentence[:neg[1]]) or not any(
            t[0] == "attached" and _overlaps(t, neg) for t in triggers):
        return False
    for cue in triggers:
        if cue[0] == "assert" and neg[2] <= cue[1] and cue[2] <= start:
            between = (neg[2], cue[1])
            if not any(between[0] <= m[1] and m[2] <= between[1] for m in mentions) \
                    and not _NEGATED_GENERIC.search(sentence, *between):
                return True
    return False


def _history(start: int, end: int, sentence: str, triggers, mentions) -> tuple[str, int, int] | None:
    """The history trigger that places the mention in the past or in another study, if any."""
    terms = [t for t in triggers if t[0] == "term"]
    others = [t for t in triggers if t[0] == "assert"]
    for t in triggers:
        if t[0] == "hist_pre" and t[2] <= start and not any(t[2] <= x[1] and x[2] <= start for x in terms) \
                and not _HISTORY_STOP.search(sentence, t[2], start):
            return t
        # "the effusion seen on the prior CT"; not "opacity consistent with radiation change seen on
        # the prior CT" (the other study describes what lies between)
        if t[0] == "hist_post" and t[1] >= end and not _POST_STOP.search(sentence, end, t[1]) \
                and not any(end <= x[1] and x[2] <= t[1] for x in terms + others if x[0] in ("term", "assert")) \
                and not any(end <= m[1] and m[2] <= t[1] for m in mentions):
            return t
    return None


def _status(start: int, end: int, sentence: str, triggers,
            mentions: list[tuple[str, int, int]] = ()) -> tuple[str | None, tuple[str, int, int] | None]:
    """Decide one mention's status from the triggers of its sentence (offsets in the sentence).

    Returns ``(None, trigger)`` for a mention that is not a finding of this study: hypothetical
    ("if … consider") or in the past / another study and not said to be there now.
    """
    terms = [t for t in triggers if t[0] == "term"]
    hypothetical = [t for t in triggers if t[0] == "hypo" and t[1] < start]  # to the sentence end
    if hypothetical:
        return None, hypothetical[-1]
    pre = [t for t in triggers if t[0] in ("pre_neg", "pre_unc") and t[1] < end
           and not any(t[2] <= x[1] and x[2] <= start for x in terms)
           and not (t[0] == "pre_neg" and _asserted_between(t, start, sentence, triggers, mentions))]
    post = [t for t in triggers if t[0] in ("post_neg", "post_unc", "mimic_neg", "mimic_unc") and t[1] >= end
            and not any(end <= x[1] and x[2] <= t[1] for x in terms)
            and not _POST_STOP.search(sentence, end, t[1])]
    # NegEx: a negation in scope wins over a hedge ("no suspicious opacity or effusion").
    pre_neg = [t for t in pre if t[0] == "pre_neg"]
    near_pre = max(pre_neg or pre, key=lambda t: t[1], default=None)
    post_neg = [t for t in post if t[0] == "post_neg"]
    near_post = min(post_neg or post, key=lambda t: t[1], default=None)
    chosen = [t for t in (near_pre, near_post) if t is not None]
    if chosen:
        negations = [t for t in chosen if t[0].endswith("neg")]
        trig = negations[0] if negations else chosen[0]
        return (NEGATIVE if trig[0].endswith("neg") else UNCERTAIN), trig
    past = _history(start, end, sentence, triggers, mentions)
    if past is None:
        return POSITIVE, None
    now = [t for t in triggers if t[0] == "current" and t[1] >= past[2]] if past[0] == "hist_post" else []
    return (POSITIVE, now[0]) if now else (None, past)


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


def _differential(index: int, mentions: list[tuple[str, int, int]], sentence: str) -> tuple[str, int, int] | None:
    """The "or" that joins mention ``index`` to a neighbouring mention of another label, if any.

    "atelectasis or scarring", "effusion versus pleural thickening": a differential asserts
    neither finding. ``mentions`` are sorted by start; returns a ``("join", start, end)`` trigger.
    """
    name, start, end = mentions[index]
    for other, o_start, o_end in mentions[max(index - 1, 0):index + 2]:
        if other == name:
            continue
        left, right = (o_end, start) if o_end <= start else (end, o_start) if end <= o_start else (0, 0)
        if right > left and _JOIN.fullmatch(sentence, left, right):
            word = _JOIN_WORD.search(sentence, left, right)
            return ("join", word.start(), word.end())
    return None


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
        triggers = _triggers(text, mentions)
        mentions.sort(key=lambda m: m[1])
        for index, (name, start, end) in enumerate(mentions):
            status, trig = _status(start, end, text, triggers, mentions)
            if status is None:
                continue
            if status == POSITIVE:
                join = _differential(index, mentions, text)
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
