"""Sentence context for the labeler: which NegEx-style triggers reach a mention, and so its status.

The triggers are data in :mod:`engine.reports.rules`; this module finds them in one sentence and
decides one mention at a time (negation, uncertainty, hypothetical, history and other studies,
differentials). Offsets are character offsets into the sentence; a trigger is ``(kind, start, end)``.
docs/LABELER.md describes the readings.
"""
from __future__ import annotations

import re
from collections.abc import Iterable

from engine.reports import rules

POSITIVE, NEGATIVE, UNCERTAIN = "positive", "negative", "uncertain"


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


def _overlaps(a: tuple[str, int, int], b: tuple[str, int, int]) -> bool:
    return a[1] < b[2] and b[1] < a[2]


def sentence_triggers(sentence: str, mentions: list[tuple[str, int, int]] = ()) -> list[tuple[str, int, int]]:
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
    stops = [t for t in triggers if t[0] in ("term", "assert")]
    for t in triggers:
        # "history of pneumonia"; "previous pneumonia", where the trigger ends with the mention
        if t[0] == "hist_pre" and (t[2] == end or t[2] <= start and not _HISTORY_STOP.search(sentence, t[2], start)
                                   and not any(t[2] <= x[1] and x[2] <= start for x in stops if x[0] == "term")):
            return t
        # "the effusion seen on the prior CT"; not "opacity consistent with radiation change seen on
        # the prior CT" (the other study describes what lies between)
        if t[0] == "hist_post" and t[1] >= end and not _POST_STOP.search(sentence, end, t[1]) \
                and not any(end <= x[1] and x[2] <= t[1] for x in stops + list(mentions)):
            return t
    return None


def _said_now(past: tuple[str, int, int], end: int, sentence: str, triggers) -> tuple[str, int, int] | None:
    """A CURRENT cue saying that a past or other-study mention is there now, if any.

    After "seen on the prior CT" anywhere in the sentence ("… is again seen"); after "prior
    effusion" in the mention's own clause ("the prior effusion is again seen", not "history of
    pneumonia, with stable cardiomegaly").
    """
    terms = [t for t in triggers if t[0] == "term"]
    for cue in triggers:
        if cue[0] != "current":
            continue
        if past[0] == "hist_post" and cue[1] >= past[2]:
            return cue
        if past[0] == "hist_pre" and cue[1] >= end and not _HISTORY_STOP.search(sentence, end, cue[1]) \
                and not any(end <= x[1] and x[2] <= cue[1] for x in terms):
            return cue
    return None


def mention_status(start: int, end: int, sentence: str, triggers,
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
    post_neg = [t for t in post if t[0].endswith("neg")]
    near_post = min(post_neg or post, key=lambda t: t[1], default=None)
    chosen = [t for t in (near_pre, near_post) if t is not None]
    if chosen:
        negations = [t for t in chosen if t[0].endswith("neg")]
        trig = negations[0] if negations else chosen[0]
        return (NEGATIVE if trig[0].endswith("neg") else UNCERTAIN), trig
    past = _history(start, end, sentence, triggers, mentions)
    if past is None:
        return POSITIVE, None
    now = _said_now(past, end, sentence, triggers)
    return (POSITIVE, now) if now else (None, past)


def differential(index: int, mentions: list[tuple[str, int, int]], sentence: str) -> tuple[str, int, int] | None:
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
