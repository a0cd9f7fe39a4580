"""FusionModel: a timm image encoder and a BERT text encoder joined by bidirectional cross-attention.

Image-only and text-only inference are first-class: a missing modality is replaced by one learned
"absent" token, and training drops modalities at random so the same head works for all three
input modes. ``__init__`` does no file I/O; weights arrive through ``load_state_dict`` (packs) or
:func:`load_pretrained_image` / :func:`load_pretrained_text` (training from local files).
"""
from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from engine.errors import ModelError

log = logging.getLogger(__name__)

MODES = ("image", "text", "joint")


@dataclass(frozen=True)
class ModelConfig:
    """Architecture of a :class:`FusionModel`; stored in the pack manifest's ``model`` section.

    Attributes
    ----------
    labels
        Label names in output order.
    image_encoder
        timm model name; ``image_encoder_kwargs`` go to ``timm.create_model`` (e.g. ``embed_dim``,
        ``depths`` or ``img_size`` for a Swin).
    text
        ``transformers.BertConfig`` keyword arguments (vocab_size, hidden_size, …).
    max_text_tokens
        Token limit for reports (longer ones are truncated).
    fusion_dim, fusion_layers, fusion_heads
        Width, depth and heads of the cross-attention stack.
    embed_dim
        Size of the L2-normalised retrieval embeddings.
    token_head
        Add per-token label logits (trained on lesion masks where the data has them); their
        maximum over the image, times a learned per-label weight, is added to the image-based logits.
    """

    labels: tuple[str, ...]
    image_encoder: str = "convnext_atto"
    image_encoder_kwargs: dict = field(default_factory=dict)
    text: dict = field(default_factory=lambda: dict(
        vocab_size=4000, hidden_size=256, num_hidden_layers=4, num_attention_heads=4,
        intermediate_size=512, max_position_embeddings=160))
    max_text_tokens: int = 128
    fusion_dim: int = 256
    fusion_layers: int = 2
    fusion_heads: int = 4
    embed_dim: int = 128
    dropout: float = 0.1
    token_head: bool = False

    def to_dict(self) -> dict:
        """Return the JSON-safe manifest form."""
        data = asdict(self)
        data["labels"] = list(self.labels)
        return data

    @classmethod
    def from_dict(cls, data: dict) -> "ModelConfig":
        """Build from the manifest form; raises :class:`ModelError` on unknown keys."""
        known = set(cls.__dataclass_fields__)
        unknown = set(data) - known
        if unknown:
            raise ModelError(f"unknown model config keys {sorted(unknown)}",
                             hint="the pack was written by a newer CXR Lens; update the program")
        values = dict(data)
        values["labels"] = tuple(values["labels"])
        return cls(**values)


@dataclass
class FusionOutput:
    """What :meth:`FusionModel.forward` returns (tensors on the model's device).

    Attributes
    ----------
    logits
        ``(batch, labels)`` raw per-label logits.
    image_embedding, text_embedding
        ``(batch, embed_dim)`` L2-normalised single-modality embeddings (trained to match each
        other, InfoNCE; the gate's out-of-distribution score uses the image one), or None when absent.
    joint_embedding
        ``(batch, embed_dim)`` L2-normalised embedding of the fused representation the classifier
        reads, for whatever input was given (image, text or both): the similar-case vectors.
    image_grid
        ``(h, w)`` of the image token grid (None without an image).
    attention
        Per fusion layer, text→image attention ``(batch, text_tokens, h*w)`` averaged over heads,
        when requested and both modalities are present.
    image_tokens
        ``(batch, h*w, C)`` encoder tokens before fusion (for Grad-CAM), when an image is given.
    token_logits
        ``(batch, h*w, labels)`` per-token label logits (models with a token head, image given).
    """

    logits: torch.Tensor
    image_embedding: torch.Tensor | None
    text_embedding: torch.Tensor | None
    joint_embedding: torch.Tensor
    image_grid: tuple[int, int] | None = None
    attention: list[torch.Tensor] | None = None
    image_tokens: torch.Tensor | None = None
    token_logits: torch.Tensor | None = None


class CrossAttentionBlock(nn.Module):
    """One pre-norm layer: image tokens attend to text tokens and text tokens to image tokens."""

    def __init__(self, dim: int, heads: int, dropout: float):
        super().__init__()
        self.norm_img, self.norm_txt = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.img_from_txt = nn.MultiheadAttention(dim, heads, dropout=dropout, batch_first=True)
        self.txt_from_img = nn.MultiheadAttention(dim, heads, dropout=dropout, batch_first=True)
        self.ffn_img = _ffn(dim, dropout)
        self.ffn_txt = _ffn(dim, dropout)

    def forward(self, img: torch.Tensor, txt: torch.Tensor, txt_pad: torch.Tensor | None,
                need_weights: bool = False) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """Return updated image and text tokens and (optionally) text→image attention weights.

        ``txt_pad`` is ``(batch, text_tokens)`` bool, True where the token is padding.
        """
        img_q, txt_q = self.norm_img(img), self.norm_txt(txt)
        img_upd, _ = self.img_from_txt(img_q, txt_q, txt_q, key_padding_mask=txt_pad, need_weights=False)
        txt_upd, weights = self.txt_from_img(txt_q, img_q, img_q, need_weights=need_weights,
                                             average_attn_weights=True)
        img = img + img_upd
        txt = txt + txt_upd
        return img + self.ffn_img(img), txt + self.ffn_txt(txt), weights


def _ffn(dim: int, dropout: float) -> nn.Module:
    return nn.Sequential(nn.LayerNorm(dim), nn.Linear(dim, dim * 2), nn.GELU(), nn.Dropout(dropout),
                         nn.Linear(dim * 2, dim))


class FusionModel(nn.Module):
    """Multi-label classifier over an image, a report text, or both.

    Parameters
    ----------
    config
        The architecture. Weights are random until loaded.
    """

    def __init__(self, config: ModelConfig):
        super().__init__()
        import timm  # heavy imports deferred to model construction
        from transformers import BertConfig, BertModel

        self.config = config
        try:
            self.image_encoder = timm.create_model(config.image_encoder, pretrained=False, in_chans=1,
                                                   num_classes=0, **config.image_encoder_kwargs)
        except (RuntimeError, TypeError, ValueError) as error:
            raise ModelError(f"cannot build image encoder {config.image_encoder!r}: {error}") from error
        self.image_channels = int(self.image_encoder.num_features)
        self.text_encoder = BertModel(BertConfig(**config.text), add_pooling_layer=False)
        text_width = int(config.text["hidden_size"])
        dim = config.fusion_dim
        self.img_proj = nn.Sequential(nn.Linear(self.image_channels, dim), nn.LayerNorm(dim))
        self.txt_proj = nn.Sequential(nn.Linear(text_width, dim), nn.LayerNorm(dim))
        self.absent_image = nn.Parameter(torch.zeros(1, 1, dim))
        self.absent_text = nn.Parameter(torch.zeros(1, 1, dim))
        nn.init.normal_(self.absent_image, std=0.02)
        nn.init.normal_(self.absent_text, std=0.02)
        self.fusion = nn.ModuleList(CrossAttentionBlock(dim, config.fusion_heads, config.dropout)
                                    for _ in range(config.fusion_layers))
        self.head_norm = nn.LayerNorm(2 * dim)
        self.head = nn.Linear(2 * dim, len(config.labels))
        self.image_embed = nn.Linear(self.image_channels, config.embed_dim)
        self.text_embed = nn.Linear(text_width, config.embed_dim)
        self.joint_embed = nn.Linear(2 * dim, config.embed_dim)
        self.logit_scale = nn.Parameter(torch.tensor(2.659))  # log(1/0.07), CLIP's start
        if config.token_head:
            self.token_head = nn.Linear(self.image_channels, len(config.labels))
            self.token_weight = nn.Parameter(torch.zeros(len(config.labels)))

    def encode_image(self, image: torch.Tensor) -> tuple[torch.Tensor, tuple[int, int]]:
        """Return encoder tokens ``(batch, h*w, C)`` and the grid ``(h, w)`` for ``(batch, 1, H, W)``."""
        features = self.image_encoder.forward_features(image)
        if features.ndim == 3:  # ViT-like: (B, N, C), possibly with prefix tokens
            prefix = int(getattr(self.image_encoder, "num_prefix_tokens", 0))
            tokens = features[:, prefix:]
            side = int(round(tokens.shape[1] ** 0.5))
            return tokens, (side, tokens.shape[1] // max(side, 1))
        if getattr(self.image_encoder, "output_fmt", "NCHW") == "NHWC":
            batch, h, w, c = features.shape
            return features.reshape(batch, h * w, c), (h, w)
        batch, c, h, w = features.shape
        return features.flatten(2).transpose(1, 2), (h, w)

    def encode_text(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Return BERT hidden states ``(batch, tokens, hidden)``."""
        return self.text_encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

    def forward(self, image: torch.Tensor | None = None, input_ids: torch.Tensor | None = None,
                attention_mask: torch.Tensor | None = None, need_attention: bool = False) -> FusionOutput:
        """Run the model on an image ``(batch, 1, H, W)``, token ids ``(batch, T)``, or both.

        ``attention_mask`` is ``(batch, T)`` with 1 for real tokens and 0 for padding.
        """
        if image is None and input_ids is None:
            raise ModelError("the model needs an image, a report text, or both")
        image_part = self._image_part(image) if image is not None else None
        text_part = self._text_part(input_ids, attention_mask) if input_ids is not None else None
        return self._fuse(image_part, text_part, need_attention)

    def forward_modes(self, image: torch.Tensor | None = None, input_ids: torch.Tensor | None = None,
                      attention_mask: torch.Tensor | None = None) -> dict[str, FusionOutput]:
        """Outputs for ``image``, ``text`` and ``joint`` input (those the given inputs allow), encoding each modality once.

        In training this is modality dropout without wasted encoder passes: every batch trains all
        three modes. At inference it gives each similar-case mode its vector in one pass.
        """
        image_part = self._image_part(image) if image is not None else None
        text_part = self._text_part(input_ids, attention_mask) if input_ids is not None else None
        if image_part is None and text_part is None:
            raise ModelError("the model needs an image, a report text, or both")
        outputs = {}
        if image_part is not None:
            outputs["image"] = self._fuse(image_part, None)
        if text_part is not None:
            outputs["text"] = self._fuse(None, text_part)
        if image_part is not None and text_part is not None:
            outputs["joint"] = self._fuse(image_part, text_part)
        return outputs

    def _image_part(self, image: torch.Tensor) -> dict:
        tokens, grid = self.encode_image(image)
        part = {"tokens": tokens, "grid": grid, "proj": self.img_proj(tokens),
                "embedding": F.normalize(self.image_embed(tokens.mean(1)), dim=-1), "token_logits": None}
        if self.config.token_head:
            part["token_logits"] = self.token_head(tokens)
        return part

    def _text_part(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None) -> dict:
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        hidden = self.encode_text(input_ids, attention_mask)
        return {"proj": self.txt_proj(hidden), "pad": attention_mask == 0,
                "embedding": F.normalize(self.text_embed(hidden[:, 0]), dim=-1)}

    def classify(self, img: torch.Tensor, txt: torch.Tensor, txt_pad: torch.Tensor | None,
                 token_logits: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """Label logits ``(batch, labels)`` and the pooled fused features ``(batch, 2 * fusion_dim)``.

        Pools the fused image tokens and the text tokens (without [PAD]), applies the label head and
        adds the max-pooled per-token logits of the lesion head when given.
        """
        if txt_pad is not None:
            keep = (~txt_pad).unsqueeze(-1).to(txt.dtype)
            txt_pooled = (txt * keep).sum(1) / keep.sum(1).clamp_min(1.0)
        else:
            txt_pooled = txt.mean(1)
        joint = self.head_norm(torch.cat([img.mean(1), txt_pooled], dim=-1))
        logits = self.head(joint)
        if token_logits is not None:
            logits = logits + self.token_weight * token_logits.amax(dim=1)
        return logits, joint

    def _fuse(self, image_part: dict | None, text_part: dict | None, need_attention: bool = False) -> FusionOutput:
        part = image_part or text_part
        batch = part["proj"].shape[0]
        img = image_part["proj"] if image_part else self.absent_image.expand(batch, 1, -1)
        txt = text_part["proj"] if text_part else self.absent_text.expand(batch, 1, -1)
        txt_pad = text_part["pad"] if text_part else None
        attention = [] if need_attention and image_part and text_part else None
        for block in self.fusion:
            img, txt, weights = block(img, txt, txt_pad, need_weights=attention is not None)
            if attention is not None:
                attention.append(weights)
        token_logits = image_part["token_logits"] if image_part else None
        logits, joint = self.classify(img, txt, txt_pad, token_logits)
        return FusionOutput(
            logits=logits,
            image_embedding=image_part["embedding"] if image_part else None,
            text_embedding=text_part["embedding"] if text_part else None,
            joint_embedding=F.normalize(self.joint_embed(joint), dim=-1),
            image_grid=image_part["grid"] if image_part else None, attention=attention,
            image_tokens=image_part["tokens"] if image_part else None, token_logits=token_logits)


def _read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    if not path.is_file():
        raise ModelError("pretrained weights file not found", path=path)
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file
        return load_file(str(path))
    try:
        state = torch.load(str(path), map_location="cpu", weights_only=True)
    except (RuntimeError, OSError, ValueError) as error:
        raise ModelError(f"cannot read weights: {error}", path=path,
                         hint="give a .safetensors file or a plain PyTorch state dict") from error
    for key in ("state_dict", "model"):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    return state


def load_pretrained_image(model: FusionModel, path: str | Path) -> list[str]:
    """Load timm/safetensors weights for the image encoder; RGB stems are summed to one channel.

    Returns the encoder keys left at their random initialisation.
    """
    state = _read_state_dict(Path(path))
    own = model.image_encoder.state_dict()
    usable = {}
    for key, value in state.items():
        if key not in own:
            continue
        target = own[key]
        if value.shape != target.shape and value.ndim == 4 and value.shape[1] == 3 and target.shape[1] == 1:
            value = value.sum(dim=1, keepdim=True)  # as timm's adapt_input_conv does
        if value.shape == target.shape:
            usable[key] = value
    if not usable:
        raise ModelError(f"no weights in the file match {model.config.image_encoder}", path=path,
                         hint="check that the file is for the encoder named in the config")
    model.image_encoder.load_state_dict(usable, strict=False)
    missing = sorted(set(own) - set(usable))
    log.info("loaded %d image-encoder tensors from %s (%d left random)", len(usable), path, len(missing))
    return missing


def load_pretrained_text(model: FusionModel, folder: str | Path) -> None:
    """Copy a local BERT checkpoint (``from_pretrained(..., local_files_only=True)``) into the model.

    The model must have been built with that checkpoint's config (see :func:`bert_config_from_folder`).
    """
    from transformers import BertModel

    try:
        bert = BertModel.from_pretrained(str(folder), local_files_only=True, add_pooling_layer=False)
    except (OSError, ValueError) as error:
        raise ModelError(f"cannot load a BERT model: {error}", path=folder,
                         hint="give a folder with config.json and model weights") from error
    model.text_encoder.load_state_dict(bert.state_dict())


def bert_config_from_folder(folder: str | Path) -> dict:
    """Return the BertConfig keyword arguments of a local BERT folder (for :class:`ModelConfig`)."""
    from transformers import BertConfig

    config = BertConfig.from_pretrained(str(folder), local_files_only=True)
    keys = ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads",
            "intermediate_size", "max_position_embeddings", "type_vocab_size")
    return {key: getattr(config, key) for key in keys}


def load_tokenizer(path: str | Path, max_tokens: int):
    """Load a ``tokenizers`` tokenizer.json set to truncate at ``max_tokens`` and pad to the batch."""
    from tokenizers import Tokenizer

    try:
        tokenizer = Tokenizer.from_file(str(path))
    except Exception as error:  # tokenizers raises a bare Exception on malformed files
        raise ModelError(f"cannot read the tokenizer: {error}", path=path) from error
    pad_id = tokenizer.token_to_id("[PAD]")
    if pad_id is None:
        raise ModelError("the tokenizer has no [PAD] token", path=path,
                         hint="use a BERT WordPiece tokenizer")
    tokenizer.enable_truncation(max_length=max_tokens)
    tokenizer.enable_padding(pad_id=pad_id, pad_token="[PAD]")
    return tokenizer


def encode_texts(tokenizer, texts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
    """Tokenise report texts; return ``input_ids`` and ``attention_mask``, both ``(batch, T)`` int64."""
    encodings = tokenizer.encode_batch([text if text.strip() else "[UNK]" for text in texts])
    ids = torch.tensor([e.ids for e in encodings], dtype=torch.long)
    mask = torch.tensor([e.attention_mask for e in encodings], dtype=torch.long)
    return ids, mask
