"""Training losses that respect what the data has.

* label BCE masked to the labels a dataset states (NaN labels are missing, not negative);
* text-only and image+text BCE only on images that have a report, and the image↔text InfoNCE
  term only among those (image-only datasets train the image path alone);
* the per-token lesion-mask loss only on cells with a known target (images without masks have none).
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from training.augment import warp

# a lesion cell's weight against the other (cell, label) entries of the token-mask loss (train.mask_pos_weight)
MASK_POS_WEIGHT = 4.0


def masked_bce(logits, labels, known, pos_weight, rows=None):
    """Mean BCE-with-logits over the known ``(batch, labels)`` entries (of the ``rows`` kept, when given)."""
    loss = F.binary_cross_entropy_with_logits(logits.float(), labels, pos_weight=pos_weight, reduction="none")
    weight = known if rows is None else known * rows[:, None]
    return (loss * weight).sum() / weight.sum().clamp_min(1.0)


def token_loss(token_logits, grid: tuple[int, int], targets, theta, pos_weight: float = MASK_POS_WEIGHT):
    """BCE of per-token label logits against warped lesion-mask targets; unknown entries are ignored.

    ``targets`` is uint8 ``(batch, labels, h, w)`` from :func:`training.dataset.build_mask_cache`.
    """
    from training.dataset import MASK_UNKNOWN

    known = (targets != MASK_UNKNOWN).float()
    positive = warp((targets == 1).float(), theta) > 0.25
    logits = token_logits.float().transpose(1, 2).reshape(targets.shape[0], targets.shape[1], *grid)
    loss = F.binary_cross_entropy_with_logits(logits, positive.float(), reduction="none",
                                              pos_weight=torch.tensor(pos_weight, device=logits.device))
    return (loss * known).sum() / known.sum().clamp_min(1.0)


def fusion_losses(outputs: dict, labels, known, has_text, pos_weight, weights: dict, masks=None, theta=None,
                  mask_pos_weight: float = MASK_POS_WEIGHT):
    """Weighted sum of the losses for the modes in ``outputs``; return ``(total, {part: tensor})``.

    ``labels`` and ``known`` are float ``(batch, labels)`` (``known`` 0 where the label is missing);
    ``has_text`` float ``(batch,)``, 1 for images with a report.
    """
    total, parts = 0.0, {}
    for mode in ("image", "text", "joint"):
        if mode not in outputs:
            continue
        loss = masked_bce(outputs[mode].logits, labels, known, pos_weight, None if mode == "image" else has_text)
        parts[mode] = loss.detach()
        total = total + weights.get(mode, 1.0) * loss
    with_text = has_text > 0.5
    if weights.get("contrastive", 0) > 0 and "text" in outputs and int(with_text.sum()) >= 2:
        img = outputs["image"].image_embedding[with_text].float()
        txt = outputs["text"].text_embedding[with_text].float()
        sims = outputs["scale"] * img @ txt.T
        target = torch.arange(len(img), device=img.device)
        contrastive = (F.cross_entropy(sims, target) + F.cross_entropy(sims.T, target)) / 2
        parts["contrastive"] = contrastive.detach()
        total = total + weights["contrastive"] * contrastive
    if masks is not None and outputs["image"].token_logits is not None:
        lesion = token_loss(outputs["image"].token_logits, outputs["image"].image_grid, masks, theta, mask_pos_weight)
        parts["mask"] = lesion.detach()
        total = total + weights.get("mask", 1.0) * lesion
    return total, parts


class TrainStep(nn.Module):
    """Model forward plus losses as one module, so DistributedDataParallel wraps (and syncs) the whole step.

    ``forward(images, ids, mask, labels, known, has_text, masks, theta)`` runs ``model.forward_modes``
    (the image alone when ``image_only``) and :func:`fusion_losses`; it returns ``(total, parts)``.
    """

    def __init__(self, model, weights: dict, pos_weight, mask_pos_weight: float, image_only: bool):
        super().__init__()
        self.model = model
        self.weights, self.mask_pos_weight, self.image_only = weights, mask_pos_weight, image_only
        self.register_buffer("pos_weight", pos_weight, persistent=False)

    def forward(self, images, ids, mask, labels, known, has_text, masks=None, theta=None):
        if self.image_only:
            outputs = dict(self.model.forward_modes(images))
        else:
            outputs = dict(self.model.forward_modes(images, ids, mask),
                           scale=self.model.logit_scale.exp().clamp(max=100))
        return fusion_losses(outputs, labels, known, has_text, self.pos_weight, self.weights, masks, theta,
                             self.mask_pos_weight)


def macro_auroc(labels: np.ndarray, logits: np.ndarray) -> float:
    """Mean AUROC over labels with both classes among their known (non-NaN) entries; NaN when none has."""
    from sklearn.metrics import roc_auc_score

    values = []
    for j in range(labels.shape[1]):
        known = ~np.isnan(labels[:, j])
        y = labels[known, j]
        if 0 < y.sum() < len(y):
            values.append(roc_auc_score(y, logits[known, j]))
    return float(np.mean(values)) if values else float("nan")
