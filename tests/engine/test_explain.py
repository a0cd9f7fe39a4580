"""Heatmaps on the tiny random-weight pack: the right logit, the right grid, IG's completeness."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from engine.errors import ModelError
from engine.explain.heatmap import Heatmap, Progress, explain, explain_steps, label_index
from engine.explain.text import EncodedReport, encode_report, word_attributions
from engine.explain.trace import FusionTrace

REPORT = "Small left pleural effusion. No pneumothorax."


def test_trace_reproduces_the_model_logits(tiny_predictor):
    model = tiny_predictor.pack.model
    image = torch.randn(2, 1, 64, 64, generator=torch.Generator().manual_seed(3))
    ids, mask = tiny_predictor.tokenize([REPORT, "Normal heart."])  # different lengths: padding
    assert (mask == 0).any()
    trace = FusionTrace(model)
    with torch.no_grad():
        image_only, _ = trace.logits(image)
        joint, record = trace.logits(image, trace.word_embeddings(ids), mask)
        assert torch.allclose(image_only, model(image=image).logits, atol=1e-5)
        assert torch.allclose(joint, model(image=image, input_ids=ids, attention_mask=mask).logits, atol=1e-5)
    to_text = record.image_to_text[0]
    assert torch.allclose(to_text.sum(-1), torch.ones(()), atol=1e-5)
    assert float(to_text[1][..., mask[1] == 0].abs().max()) == 0.0  # padding gets no attention


def test_trace_follows_a_model_with_a_token_head():
    from engine.model.fusion import FusionModel

    from tests.engine.conftest import tiny_model_config

    torch.manual_seed(1)
    config = dataclasses.replace(tiny_model_config(300), token_head=True)
    model = FusionModel(config).eval()
    with torch.no_grad():
        model.token_weight.fill_(0.7)  # zero at initialisation: make the head count
        image = torch.randn(2, 1, 64, 64)
        ids = torch.randint(5, 300, (2, 9))
        mask = torch.ones_like(ids)
        trace = FusionTrace(model)
        assert torch.allclose(trace.logits(image)[0], model(image=image).logits, atol=1e-5)
        joint = model(image=image, input_ids=ids, attention_mask=mask).logits
        assert torch.allclose(trace.logits(image, trace.word_embeddings(ids), mask)[0], joint, atol=1e-5)


@pytest.mark.parametrize("method", ["gradcam", "attention", "ig", "igcam"])
@pytest.mark.parametrize("report", [None, REPORT])
def test_heatmap_lies_on_the_original_grid_in_unit_range(tiny_predictor, chest_like_image, method, report):
    heatmap = explain(tiny_predictor, chest_like_image, "effusion", method, report, steps=8, batch=4)
    assert isinstance(heatmap, Heatmap)
    assert heatmap.values.shape == chest_like_image.shape and heatmap.values.dtype == np.float32
    assert heatmap.values.min() >= 0.0 and heatmap.values.max() <= 1.0
    assert heatmap.label == "Effusion" and heatmap.method == method
    assert heatmap.mode == ("joint" if report else "image")
    probability = tiny_predictor.predict(chest_like_image, report, check_gate=False).findings[2].probability
    assert heatmap.probability == pytest.approx(probability, abs=1e-5)
    if report:
        assert [t.text for t in heatmap.tokens] == ["Small", "left", "pleural", "effusion", ".", "No",
                                                    "pneumothorax", "."]
        assert all(REPORT[t.start:t.end] == t.text for t in heatmap.tokens)
        assert max(abs(t.score) for t in heatmap.tokens) == pytest.approx(1.0)
    else:
        assert heatmap.tokens == ()


def _manual_gradcam(model, tensor, index):
    """Grad-CAM from the model's own forward (not the trace): gradient of logit ``index``."""
    with torch.enable_grad():
        output = model(image=tensor)
        tokens = output.image_tokens
        grad = torch.autograd.grad(output.logits[0, index], tokens)[0]
    h, w = output.image_grid
    weights = grad.mean(1)  # average over the h*w positions, per channel
    return torch.relu((tokens.detach() * weights[:, None, :]).sum(-1))[0].reshape(h, w).numpy()


def test_gradcam_explains_the_chosen_labels_logit(tiny_predictor, chest_like_image):
    model = tiny_predictor.pack.model
    tensor, _ = tiny_predictor.prepare(chest_like_image)
    maps = {}
    for name in tiny_predictor.labels[:8]:
        manual = _manual_gradcam(model, tensor, label_index(tiny_predictor.labels, name))
        if manual.max() > 0:
            maps[name] = manual / manual.max()
    assert len(maps) >= 2
    names = list(maps)
    assert not np.allclose(maps[names[0]], maps[names[1]], atol=1e-3)  # labels really differ
    for name in names[:2]:
        heatmap = explain(tiny_predictor, chest_like_image, name, "gradcam")
        assert np.allclose(heatmap.model_map, maps[name], atol=1e-4)


def test_hirescam_weights_each_position_by_its_own_gradient(tiny_predictor, chest_like_image):
    model = tiny_predictor.pack.model
    tensor, _ = tiny_predictor.prepare(chest_like_image)
    index = label_index(tiny_predictor.labels, "Effusion")
    with torch.enable_grad():
        output = model(image=tensor)
        grad = torch.autograd.grad(output.logits[0, index], output.image_tokens)[0]
    manual = torch.relu((grad * output.image_tokens.detach()).sum(-1))[0].reshape(output.image_grid).numpy()
    heatmap = explain(tiny_predictor, chest_like_image, "Effusion", "gradcam", hires=True)
    expected = manual / manual.max() if manual.max() > 0 else manual
    assert np.allclose(heatmap.model_map, expected, atol=1e-4)
    assert heatmap.details["weights"] == "per position"


def test_igcam_is_integrated_gradients_kept_where_hirescam_is(tiny_predictor, chest_like_image):
    from PIL import Image

    ig = explain(tiny_predictor, chest_like_image, "Effusion", "ig", REPORT, steps=8, batch=4)
    cam = explain(tiny_predictor, chest_like_image, "Effusion", "gradcam", REPORT, hires=True)
    both = explain(tiny_predictor, chest_like_image, "Effusion", "igcam", REPORT, steps=8, batch=4)
    size = ig.model_map.shape[0]
    gate = np.asarray(Image.fromarray(cam.model_map, mode="F").resize((size, size), Image.BILINEAR))
    expected = ig.model_map * gate
    assert expected.max() > 0
    assert np.allclose(both.model_map, expected / expected.max(), atol=1e-3)
    assert both.tokens == ig.tokens  # the report words are IG's
    assert both.details["gate"] == "HiResCAM, encoder output" and both.details["steps"] == 8


def test_gradcam_on_an_earlier_stage_has_a_finer_grid(tiny_predictor, chest_like_image):
    final = explain(tiny_predictor, chest_like_image, "Nodule", "gradcam")
    earlier = explain(tiny_predictor, chest_like_image, "Nodule", "gradcam", stage=-2)
    assert earlier.model_map.shape[0] == 2 * final.model_map.shape[0]
    assert earlier.details["layer"] == "encoder feature level -2 (stages.2)"
    with pytest.raises(ModelError, match="feature level"):
        explain(tiny_predictor, chest_like_image, "Nodule", "gradcam", stage=9)


def test_attention_depends_on_the_label(tiny_predictor, chest_like_image):
    maps = [explain(tiny_predictor, chest_like_image, name, "attention", REPORT).model_map
            for name in tiny_predictor.labels[:6]]
    assert any(not np.allclose(maps[0], other, atol=1e-3) for other in maps[1:])


def _square_image(rows=160, cols=96, box=(30, 70, 50, 85)):
    image = np.zeros((rows, cols), np.float32)
    top, bottom, left, right = box
    image[top:bottom, left:right] = np.linspace(0.3, 1.0, right - left)[None, :]
    return image


def test_ig_is_zero_where_the_image_equals_the_black_baseline(tiny_predictor):
    image = _square_image()
    heatmap = explain(tiny_predictor, image, "Mass", "ig", steps=16, batch=8)
    margin = 12  # smoothing (3 sigma) and bilinear resampling, in original pixels at scale 0.4
    outside = np.ones(image.shape, bool)
    outside[30 - margin:70 + margin, 50 - margin:85 + margin] = False
    assert heatmap.values.max() == pytest.approx(1.0)
    assert float(heatmap.values[outside].max()) == 0.0
    assert heatmap.details["baseline"] == "black"


@pytest.mark.parametrize("baseline", ["black", "blur"])
def test_ig_segments_add_up_to_the_whole_path(tiny_predictor, chest_like_image, baseline):
    """Segments telescope: sum of attributions - (F(x) - F(baseline)) is the reported delta."""
    heatmap = explain(tiny_predictor, chest_like_image, "Effusion", "ig", REPORT, steps=12, batch=4,
                      baseline=baseline)
    d = heatmap.details
    assert d["attribution_sum"] - (d["logit"] - d["baseline_logit"]) == pytest.approx(d["convergence_delta"],
                                                                                      abs=1e-4)


def test_ig_in_one_segment_equals_captum(tiny_predictor, chest_like_image):
    from captum.attr import IntegratedGradients

    heatmap = explain(tiny_predictor, chest_like_image, "Nodule", "ig", steps=8, batch=8)
    tensor, _ = tiny_predictor.prepare(chest_like_image)
    trace = FusionTrace(tiny_predictor.pack.model)
    black = torch.full_like(tensor, -tiny_predictor.params.mean / tiny_predictor.params.std)
    index = label_index(tiny_predictor.labels, "Nodule")
    direct = IntegratedGradients(lambda x: trace.logits(x)[0][:, index]).attribute(tensor, black, n_steps=8)
    assert heatmap.details["attribution_sum"] == pytest.approx(float(direct.sum()), rel=1e-4, abs=1e-5)


def test_ig_yields_progress_and_can_be_cancelled(tiny_predictor, chest_like_image):
    items = list(explain_steps(tiny_predictor, chest_like_image, "Effusion", "ig", steps=10, batch=4))
    progress = [item for item in items if isinstance(item, Progress)]
    assert [p.fraction for p in progress] == pytest.approx([0.0, 1 / 3, 2 / 3, 1.0])
    assert "10/10" in progress[-1].message and isinstance(items[-1], Heatmap)
    steps = explain_steps(tiny_predictor, chest_like_image, "Effusion", "ig", steps=64, batch=4)
    assert isinstance(next(steps), Progress)
    steps.close()  # the consumer stops: no more model passes, no error


def test_engine_image_input(tiny_predictor, rg1_path):
    from engine.images.read import read_image

    heatmap = explain(tiny_predictor, read_image(rg1_path), "Cardiomegaly", "gradcam")
    assert heatmap.values.shape == (1955, 1841)


def test_bad_requests_raise_model_errors(tiny_predictor, chest_like_image):
    with pytest.raises(ModelError, match="choose one of"):
        explain(tiny_predictor, chest_like_image, "Effusion", "lime")
    with pytest.raises(ModelError, match="Effusion"):
        explain(tiny_predictor, chest_like_image, "Spleen", "gradcam")
    with pytest.raises(ModelError, match="baseline"):
        explain(tiny_predictor, chest_like_image, "Effusion", "ig", baseline="noise")
    with pytest.raises(ModelError, match="steps"):
        explain(tiny_predictor, chest_like_image, "Effusion", "ig", steps=0)


def test_word_pieces_are_merged_into_words():
    encoded = EncodedReport("plate atelectasis", None, None, None, (None, 0, 1, 1, None),
                            ((0, 0), (0, 5), (6, 11), (11, 17), (0, 0)))
    words = word_attributions(encoded, np.array([9.0, 1.0, -3.0, -1.0, 7.0]))
    assert [(w.text, w.start, w.end) for w in words] == [("plate", 0, 5), ("atelectasis", 6, 17)]
    assert [w.score for w in words] == pytest.approx([0.25, -1.0])


def test_text_baseline_keeps_only_special_tokens(tiny_predictor):
    encoded = encode_report(tiny_predictor.pack.tokenizer, REPORT)
    pad = tiny_predictor.pack.tokenizer.token_to_id("[PAD]")
    ids, base = encoded.input_ids[0].tolist(), encoded.baseline_ids[0].tolist()
    assert base[0] == ids[0] and base[-1] == ids[-1]
    assert set(base[1:-1]) == {pad}


def test_overlay_leaves_the_image_where_the_map_is_low():
    from engine.explain.overlay import colormap_lut, render_overlay

    image = np.tile(np.linspace(0, 1, 40, dtype=np.float32), (30, 1))
    values = np.zeros_like(image)
    values[10:20, 10:20] = 1.0
    values[0:5, 0:5] = 0.1  # below the opacity floor
    out = render_overlay(image, values, "turbo", max_opacity=0.5, floor=0.15)
    grey = np.round(image * 255).astype(np.uint8)
    low = values < 0.15
    assert out.shape == (30, 40, 3) and out.dtype == np.uint8
    assert np.array_equal(out[low], np.repeat(grey[low][:, None], 3, axis=1))
    top = colormap_lut("turbo")[-1].astype(float)
    expected = 0.5 * np.repeat(image[15, 15], 3) * 255 + 0.5 * top
    assert np.allclose(out[15, 15], expected, atol=1)


def test_colormaps_and_outline():
    from engine.explain.overlay import colormap_lut, draw_outline, legend_bar, mask_outline

    inferno = colormap_lut("inferno")
    assert inferno.shape == (256, 3) and tuple(inferno[0]) == (0, 0, 4) and tuple(inferno[-1]) == (252, 255, 164)
    mask = np.zeros((12, 12), bool)
    mask[3:9, 3:9] = True
    ring = mask_outline(mask)
    assert ring.sum() == 20 and ring[3, 3] and not ring[5, 5] and not ring[0, 0]
    drawn = draw_outline(np.zeros((12, 12, 3), np.uint8), mask, (255, 0, 0), width=1)
    assert (drawn[ring] == (255, 0, 0)).all() and (drawn[~ring] == 0).all()
    bar = legend_bar(64, 8)
    assert bar.shape == (64, 8, 3) and np.array_equal(bar[-1], np.full((8, 3), 128, np.uint8))
    with pytest.raises(ModelError, match="colormap"):
        colormap_lut("rainbow")


def test_bench_measures_on_hand_made_maps():
    from bench.explain_metrics import (centre_map, curve_auc, perturbation_images, pointing_hit, spearman,
                                       top_fraction_iou)

    mask = np.zeros((20, 20), bool)
    mask[2:6, 2:6] = True
    hot = np.zeros((20, 20), np.float32)
    hot[3, 3] = 1.0
    far = np.zeros((20, 20), np.float32)
    far[10, 10] = 1.0
    assert pointing_hit(hot, mask) and not pointing_hit(far, mask)
    assert pointing_hit(far, mask, tolerance_px=7.1) and not pointing_hit(far, mask, tolerance_px=6.0)
    assert not pointing_hit(np.zeros((20, 20)), mask)  # a blank map points nowhere
    perfect = mask.astype(np.float32)
    assert top_fraction_iou(perfect, mask, fraction=16 / 400) == pytest.approx(1.0)
    assert top_fraction_iou(perfect, mask, fraction=0.1) == pytest.approx(16 / 40)
    frames = perturbation_images(np.ones((2, 2)), np.zeros((2, 2)), np.array([[4, 3], [2, 1]]), 2, False)
    assert frames.tolist() == [[[1, 1], [1, 1]], [[0, 0], [1, 1]], [[0, 0], [0, 0]]]
    inserted = perturbation_images(np.ones((2, 2)), np.zeros((2, 2)), np.array([[4, 3], [2, 1]]), 4, True)
    assert inserted[1].tolist() == [[1, 0], [0, 0]] and inserted[-1].tolist() == [[1, 1], [1, 1]]
    assert curve_auc([1.0, 0.5, 0.0]) == pytest.approx(0.5)
    assert spearman(np.arange(10), np.arange(10) ** 2) == pytest.approx(1.0)
    assert spearman(np.arange(10), -np.arange(10)) == pytest.approx(-1.0)
    assert spearman(np.ones(10), np.arange(10)) == 0.0
    centre = centre_map((21, 31))
    assert np.unravel_index(np.argmax(centre), centre.shape) == (10, 15)


def test_progress_does_not_leak_grad_mode_to_the_consumer(tiny_predictor, chest_like_image):
    with torch.no_grad():
        for item in explain_steps(tiny_predictor, chest_like_image, "Mass", "ig", steps=4, batch=2):
            assert not torch.is_grad_enabled()
        assert isinstance(item, Heatmap) and item.values.max() > 0
