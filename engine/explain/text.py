"""Report words for explanations: tokenise with character offsets, merge word pieces into words.

Token scores come from the explanation methods (gradient × input or Integrated Gradients on the
BERT word embeddings); here they are summed over each word's pieces and scaled so that the word
with the largest magnitude has ``|score| == 1``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class TokenAttribution:
    """One report word and how much it pushed the label's logit.

    Attributes
    ----------
    text
        The word as written in the report (``report[start:end]``).
    start, end
        Character offsets into the report text.
    score
        Signed attribution in [-1, 1]: positive words support the finding, negative ones argue
        against it; scaled by the largest magnitude among the report's words.
    """

    text: str
    start: int
    end: int
    score: float

    def to_dict(self) -> dict:
        """JSON-safe form."""
        return {"text": self.text, "start": self.start, "end": self.end, "score": round(self.score, 4)}


@dataclass(frozen=True)
class EncodedReport:
    """A report tokenised for one model pass.

    ``input_ids`` and ``attention_mask`` are ``(1, T)`` int64 tensors; ``baseline_ids`` keeps
    ``[CLS]``/``[SEP]`` and replaces every other token by ``[PAD]`` (the "no words" reference for
    attributions); ``word_ids`` and ``offsets`` map each token to its word and characters.
    """

    text: str
    input_ids: object
    attention_mask: object
    baseline_ids: object
    word_ids: tuple[int | None, ...]
    offsets: tuple[tuple[int, int], ...]


def encode_report(tokenizer, text: str) -> EncodedReport:
    """Tokenise ``text`` with the pack's tokenizer (which truncates to the model's token limit)."""
    import torch

    encoding = tokenizer.encode(text)
    pad_id = tokenizer.token_to_id("[PAD]")
    baseline = [tok if special else pad_id for tok, special in zip(encoding.ids, encoding.special_tokens_mask)]
    return EncodedReport(
        text, torch.tensor([encoding.ids], dtype=torch.long),
        torch.tensor([encoding.attention_mask], dtype=torch.long), torch.tensor([baseline], dtype=torch.long),
        tuple(encoding.word_ids), tuple(encoding.offsets))


def word_attributions(encoded: EncodedReport, token_scores: np.ndarray | None) -> tuple[TokenAttribution, ...]:
    """Sum token scores per word and scale them to [-1, 1]; special tokens are dropped."""
    if token_scores is None:
        return ()
    words: dict[int, list] = {}
    for word, (start, end), score in zip(encoded.word_ids, encoded.offsets, np.asarray(token_scores, float)):
        if word is None:
            continue
        entry = words.setdefault(word, [start, end, 0.0])
        entry[0], entry[1] = min(entry[0], start), max(entry[1], end)
        entry[2] += float(score)
    peak = max((abs(e[2]) for e in words.values()), default=0.0)
    scale = 1.0 / peak if peak > 0 and np.isfinite(peak) else 0.0
    return tuple(TokenAttribution(encoded.text[s:e], s, e, v * scale)
                 for s, e, v in (words[k] for k in sorted(words)))
