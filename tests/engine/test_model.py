"""FusionModel: shapes, normalised embeddings, missing modalities, padding masks, preprocessing geometry."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from engine.errors import ModelError
from engine.model.fusion import FusionModel
from engine.model.preprocess import PreprocessParams, letterbox_geometry, map_to_original, preprocess

from tests.engine.conftest import tiny_model_config


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return FusionModel(tiny_model_config(vocab_size=100)).eval()


def _inputs(batch=2, tokens=7):
    image = torch.randn(batch, 1, 64, 64)
    ids = torch.randint(5, 100, (batch, tokens))
    return image, ids, torch.ones_like(ids)


def test_all_modes_give_logits_and_unit_embeddings(model):
    image, ids, mask = _inputs()
    with torch.no_grad():
        outs = {"image": model(image=image), "text": model(input_ids=ids, attention_mask=mask),
                "joint": model(image=image, input_ids=ids, attention_mask=mask)}
    for mode, out in outs.items():
        assert out.logits.shape == (2, len(model.config.labels)), mode
        assert torch.allclose(out.joint_embedding.norm(dim=-1), torch.ones(2), atol=1e-5)
    assert outs["image"].text_embedding is None and outs["text"].image_embedding is None
    assert torch.allclose(outs["joint"].image_embedding.norm(dim=-1), torch.ones(2), atol=1e-5)
    assert torch.allclose(outs["joint"].text_embedding.norm(dim=-1), torch.ones(2), atol=1e-5)
    # the text changes the fused prediction, not the image-alone embedding
    assert not torch.allclose(outs["image"].logits, outs["joint"].logits)
    assert torch.allclose(outs["image"].image_embedding, outs["joint"].image_embedding)


def test_forward_modes_matches_separate_calls(model):
    image, ids, mask = _inputs()
    with torch.no_grad():
        modes = model.forward_modes(image, ids, mask)
        joint = model(image=image, input_ids=ids, attention_mask=mask)
        text = model(input_ids=ids, attention_mask=mask)
    assert torch.allclose(modes["joint"].logits, joint.logits, atol=1e-5)
    assert torch.allclose(modes["text"].logits, text.logits, atol=1e-5)


def test_padding_is_masked(model):
    """Extra [PAD] tokens (masked) must not change the output."""
    image, ids, mask = _inputs(batch=1, tokens=6)
    padded = torch.cat([ids, torch.zeros(1, 5, dtype=torch.long)], dim=1)
    padded_mask = torch.cat([mask, torch.zeros(1, 5, dtype=torch.long)], dim=1)
    with torch.no_grad():
        a = model(image=image, input_ids=ids, attention_mask=mask)
        b = model(image=image, input_ids=padded, attention_mask=padded_mask)
    assert torch.allclose(a.logits, b.logits, atol=1e-4)
    assert torch.allclose(a.text_embedding, b.text_embedding, atol=1e-4)


def test_attention_maps_cover_image_grid(model):
    image, ids, mask = _inputs(batch=1)
    with torch.no_grad():
        out = model(image=image, input_ids=ids, attention_mask=mask, need_attention=True)
    h, w = out.image_grid
    assert len(out.attention) == model.config.fusion_layers
    assert out.attention[0].shape == (1, ids.shape[1], h * w)
    assert torch.allclose(out.attention[0].sum(-1), torch.ones(1, ids.shape[1]), atol=1e-4)


def test_no_input_is_an_error(model):
    with pytest.raises(ModelError):
        model()


def test_unknown_encoder_is_a_model_error():
    config = tiny_model_config(100)
    from dataclasses import replace
    with pytest.raises(ModelError, match="image encoder"):
        FusionModel(replace(config, image_encoder="convnext_atto", image_encoder_kwargs={"bogus": 1}))


def test_preprocess_letterboxes_and_maps_back():
    params = PreprocessParams(size=64, mean=0.5, std=0.25)
    image = np.zeros((200, 100), np.float32)
    image[:100] = 1.0  # top half white
    array, geo = preprocess(image, params)
    assert array.shape == (1, 64, 64) and array.dtype == np.float32
    assert (geo.scaled_rows, geo.scaled_cols, geo.top, geo.left) == (64, 32, 0, 16)
    assert np.allclose(array[0, :, :16], (0.0 - 0.5) / 0.25)  # padding
    # a map that is 1 on the top half of the model grid maps back to the top half of the original
    grid = np.zeros((64, 64), np.float32)
    grid[:32] = 1.0
    back = map_to_original(grid, geo)
    assert back.shape == (200, 100)
    assert back[:90].min() > 0.9 and back[110:].max() < 0.1


def test_map_to_original_undoes_horizontal_padding():
    geo = letterbox_geometry(100, 300, 96)  # wide image: padded top and bottom
    assert geo.top > 0 and geo.left == 0
    grid = np.zeros((96, 96), np.float32)
    grid[:, :48] = 1.0  # left half
    back = map_to_original(grid, geo)
    assert back.shape == (100, 300)
    assert back[:, :140].min() > 0.9 and back[:, 160:].max() < 0.1


def test_token_head_gives_per_token_logits_added_to_image_logits():
    from dataclasses import replace

    torch.manual_seed(0)
    model = FusionModel(replace(tiny_model_config(100), token_head=True)).eval()
    image, ids, mask = _inputs()
    with torch.no_grad():
        before = model(image=image)
        text_before = model(input_ids=ids, attention_mask=mask).logits
        model.token_weight.fill_(1.0)
        after = model(image=image)
        text_after = model(input_ids=ids, attention_mask=mask).logits
    h, w = before.image_grid
    assert before.token_logits.shape == (2, h * w, len(model.config.labels))
    assert torch.allclose(after.logits - before.logits, before.token_logits.amax(dim=1), atol=1e-5)
    assert torch.equal(text_before, text_after)  # text-only mode has no image tokens


def test_swin_encoder_tokens_come_from_nhwc_features():
    from dataclasses import replace

    config = replace(tiny_model_config(100), image_encoder="swin_tiny_patch4_window7_224",
                     image_encoder_kwargs={"img_size": 64, "window_size": 4, "embed_dim": 16,
                                           "depths": [1, 1], "num_heads": [1, 2]})
    model = FusionModel(config).eval()
    with torch.no_grad():
        out = model(image=torch.randn(1, 1, 64, 64), need_attention=False)
    assert out.image_grid == (8, 8) and out.image_tokens.shape == (1, 64, 32)


def test_pretrained_image_weights_from_safetensors_with_rgb_stem(tmp_path):
    import timm
    from safetensors.torch import save_file

    from engine.model.fusion import load_pretrained_image

    config = tiny_model_config(100)
    rgb = timm.create_model(config.image_encoder, pretrained=False, in_chans=3, num_classes=5,
                            **config.image_encoder_kwargs)
    path = tmp_path / "encoder.safetensors"
    save_file({k: v.contiguous() for k, v in rgb.state_dict().items()}, str(path))
    model = FusionModel(config)
    missing = load_pretrained_image(model, path)
    assert missing == []  # every encoder tensor came from the file
    stem = "stem.0.weight"
    assert torch.allclose(model.image_encoder.state_dict()[stem], rgb.state_dict()[stem].sum(1, keepdim=True))


def test_pretrained_bert_folder_is_loaded_offline(tmp_path):
    from dataclasses import replace

    from transformers import BertConfig, BertModel

    from engine.model.fusion import bert_config_from_folder, load_pretrained_text

    bert = BertModel(BertConfig(vocab_size=90, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                                intermediate_size=64, max_position_embeddings=40), add_pooling_layer=False)
    bert.save_pretrained(tmp_path / "bert")
    text = bert_config_from_folder(tmp_path / "bert")
    assert text["vocab_size"] == 90 and text["hidden_size"] == 32
    model = FusionModel(replace(tiny_model_config(90), text=text))
    load_pretrained_text(model, tmp_path / "bert")
    key = "embeddings.word_embeddings.weight"
    assert torch.equal(model.text_encoder.state_dict()[key], bert.state_dict()[key])
    with pytest.raises(ModelError):
        load_pretrained_text(model, tmp_path / "missing")
