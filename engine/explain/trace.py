"""A differentiable re-run of :class:`engine.model.fusion.FusionModel` that exposes what explanations need.

The model's own ``forward`` returns head-averaged attention weights that are not part of the
autograd graph (``nn.MultiheadAttention`` averages a copy), and it takes token ids, which cannot be
interpolated. :class:`FusionTrace` runs the same modules in the same order but

* takes the report's *word embeddings* (so Integrated Gradients can walk from a baseline text),
* computes the attention of each fusion layer (both directions) itself, per head, inside the graph (so
  the gradient of a label's logit with respect to each attention weight exists), and
* keeps the image encoder's output tokens (and optionally an earlier stage's feature map) with
  their gradients (for Grad-CAM).

It reuses the model's parameters; nothing is copied. ``tests/engine/test_explain.py`` checks that
its logits equal ``FusionModel.forward``'s for image-only and image+text input, so a change in the
model that this re-run does not follow fails loudly.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from engine.errors import ModelError


@dataclass
class TraceRecord:
    """Intermediate tensors of one traced forward pass (batch first).

    Attributes
    ----------
    image_tokens
        ``(batch, h*w, C)`` image-encoder output tokens (gradients retained when requested).
    grid
        ``(h, w)`` of the token grid.
    stage_features
        ``(batch, C', h', w')`` output of the requested earlier encoder stage, or None.
    text_to_image
        Per fusion layer, the attention of text tokens over image tokens
        ``(batch, heads, text_tokens, h*w)``.
    image_to_text
        Per fusion layer, the attention of image tokens over text tokens
        ``(batch, heads, h*w, text_tokens)`` (padding keys get weight 0).
    word_embeddings
        ``(batch, T, hidden)`` the word embeddings fed to BERT, or None for image-only input.
    """

    image_tokens: torch.Tensor
    grid: tuple[int, int]
    stage_features: torch.Tensor | None = None
    text_to_image: list[torch.Tensor] = field(default_factory=list)
    image_to_text: list[torch.Tensor] = field(default_factory=list)
    word_embeddings: torch.Tensor | None = None


class FusionTrace:
    """Runs a FusionModel's modules with hooks for explanations.

    Parameters
    ----------
    model
        A :class:`engine.model.fusion.FusionModel` in eval mode.
    stage
        Index into the image encoder's timm ``feature_info`` (its feature levels, finest first)
        whose output is kept as ``stage_features`` (e.g. ``-2`` for the level before the last), or
        None to keep only the final tokens.
    """

    def __init__(self, model, stage: int | None = None):
        self.model = model
        self.stage = stage
        for block in model.fusion:
            if getattr(block.txt_from_img, "in_proj_weight", None) is None:
                raise ModelError("the fusion attention layers have separate key/value sizes, which the "
                                 "explainer does not handle", hint="use a pack built with this CXR Lens")

    def stage_module(self):
        """Return the encoder module of feature level ``stage`` (timm ``feature_info``: e.g. ``s3``,
        ``stages.2``)."""
        encoder = self.model.image_encoder
        info = getattr(encoder, "feature_info", None)
        try:
            name = info[self.stage]["module"]
            return encoder.get_submodule(name)
        except (TypeError, IndexError, KeyError, AttributeError) as error:
            raise ModelError(f"the image encoder {self.model.config.image_encoder!r} has no feature level "
                             f"{self.stage} to explain", hint="use the encoder output (stage=None)") from error

    def word_embeddings(self, input_ids: torch.Tensor) -> torch.Tensor:
        """Return the BERT word embeddings ``(batch, T, hidden)`` of token ids ``(batch, T)``."""
        return self.model.text_encoder.get_input_embeddings()(input_ids)

    def logits(self, image: torch.Tensor, embeddings: torch.Tensor | None = None,
               attention_mask: torch.Tensor | None = None) -> tuple[torch.Tensor, TraceRecord]:
        """Return the logits ``(batch, labels)`` and the intermediate tensors.

        Parameters
        ----------
        image
            Normalised model input ``(batch, 1, size, size)``.
        embeddings
            Word embeddings ``(batch, T, hidden)`` from :meth:`word_embeddings` (or interpolated
            between two such), or None for image-only input.
        attention_mask
            ``(batch, T)`` with 1 for real tokens and 0 for padding.
        """
        model = self.model
        stage_out: list[torch.Tensor] = []
        handle = None
        if self.stage is not None:
            handle = self.stage_module().register_forward_hook(lambda _m, _i, out: stage_out.append(out))
        try:
            tokens, grid = model.encode_image(image)
        finally:
            if handle is not None:
                handle.remove()
        img = model.img_proj(tokens)
        batch = img.shape[0]
        if embeddings is not None:
            if attention_mask is None:
                attention_mask = torch.ones(embeddings.shape[:2], dtype=torch.long)
            hidden = model.text_encoder(inputs_embeds=embeddings, attention_mask=attention_mask).last_hidden_state
            txt = model.txt_proj(hidden)
            txt_pad = attention_mask == 0
        else:
            txt = model.absent_text.expand(batch, 1, -1)
            txt_pad = None
        features = _channels_first(stage_out[0], model) if stage_out else None
        rec = TraceRecord(tokens, grid, features, word_embeddings=embeddings)
        for block in model.fusion:
            img_q, txt_q = block.norm_img(img), block.norm_txt(txt)
            img_upd, to_text = _attend(block.img_from_txt, img_q, txt_q, txt_pad)
            txt_upd, to_image = _attend(block.txt_from_img, txt_q, img_q)
            rec.image_to_text.append(to_text)
            rec.text_to_image.append(to_image)
            img = img + img_upd
            txt = txt + txt_upd
            img = img + block.ffn_img(img)
            txt = txt + block.ffn_txt(txt)
        token_logits = model.token_head(tokens) if getattr(model.config, "token_head", False) else None
        logits, _ = model.classify(img, txt, txt_pad, token_logits)
        return logits, rec


def _channels_first(features: torch.Tensor, model) -> torch.Tensor:
    """Return a stage output as ``(batch, C, h, w)`` whatever the encoder's layout."""
    if features.ndim != 4:
        raise ModelError(f"encoder stage output has shape {tuple(features.shape)}, not a feature map")
    if getattr(model.image_encoder, "output_fmt", "NCHW") == "NHWC":
        return features.permute(0, 3, 1, 2)
    return features


def _attend(mha: torch.nn.MultiheadAttention, query: torch.Tensor, key_value: torch.Tensor,
            key_padding: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Multi-head attention of ``query`` over ``key_value`` (both batch first), eval mode.

    ``key_padding`` is ``(batch, Lk)`` bool, True for keys to ignore.

    Returns the attention output ``(batch, Lq, dim)`` and the per-head weights
    ``(batch, heads, Lq, Lk)``, which are part of the autograd graph.
    """
    dim, heads = mha.embed_dim, mha.num_heads
    w_q, w_k, w_v = mha.in_proj_weight.chunk(3)
    b_q, b_k, b_v = (mha.in_proj_bias.chunk(3) if mha.in_proj_bias is not None else (None, None, None))
    batch, lq, lk = query.shape[0], query.shape[1], key_value.shape[1]
    q = F.linear(query, w_q, b_q).view(batch, lq, heads, dim // heads).transpose(1, 2)
    k = F.linear(key_value, w_k, b_k).view(batch, lk, heads, dim // heads).transpose(1, 2)
    v = F.linear(key_value, w_v, b_v).view(batch, lk, heads, dim // heads).transpose(1, 2)
    scores = q @ k.transpose(-1, -2) / (dim // heads) ** 0.5
    if key_padding is not None:
        scores = scores.masked_fill(key_padding[:, None, None, :], float("-inf"))
    weights = torch.softmax(scores, dim=-1)
    out = (weights @ v).transpose(1, 2).reshape(batch, lq, dim)
    return mha.out_proj(out), weights
