"""Train a BERT WordPiece tokenizer on report texts, or take one from a local BERT folder."""
from __future__ import annotations

from pathlib import Path
from typing import Iterable

from engine.errors import ModelError

SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def train_tokenizer(texts: Iterable[str], out_path: str | Path, vocab_size: int = 4000,
                    min_frequency: int = 2) -> int:
    """Train a lower-casing WordPiece tokenizer and save it as tokenizer.json; return its vocabulary size.

    The saved tokenizer adds ``[CLS] … [SEP]`` (the text embedding is the ``[CLS]`` state).
    """
    from tokenizers import BertWordPieceTokenizer
    from tokenizers.processors import BertProcessing

    tokenizer = BertWordPieceTokenizer(lowercase=True, strip_accents=True, clean_text=True)
    tokenizer.train_from_iterator(list(texts), vocab_size=vocab_size, min_frequency=min_frequency,
                                  special_tokens=SPECIAL_TOKENS)
    backend = tokenizer._tokenizer  # noqa: SLF001 - the documented way to reach the Tokenizer
    backend.post_processor = BertProcessing(("[SEP]", backend.token_to_id("[SEP]")),
                                            ("[CLS]", backend.token_to_id("[CLS]")))
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    backend.save(str(out))
    return backend.get_vocab_size()


def tokenizer_from_bert_folder(folder: str | Path, out_path: str | Path) -> int:
    """Copy a local BERT folder's fast tokenizer to tokenizer.json (``local_files_only``)."""
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(str(folder), local_files_only=True, use_fast=True)
    except (OSError, ValueError) as error:
        raise ModelError(f"cannot load a tokenizer: {error}", path=folder) from error
    tokenizer.backend_tokenizer.save(str(out_path))
    return tokenizer.backend_tokenizer.get_vocab_size()
