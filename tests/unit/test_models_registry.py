"""Presets, seeded builds, weight loading rules and the frame adapters' contracts on the lite presets."""

import pytest
import torch
from safetensors.torch import save_file

from deeperfour.errors import DeeperFourError, WeightsError
from deeperfour.models.cartoonizer import cartoonize
from deeperfour.models.colorizer import colorize
from deeperfour.models.registry import PRESETS, Preset, build_model, get_preset
from deeperfour.models.stabilizer import stabilize_step
from deeperfour.models.store import packaged_dir
from deeperfour.models.weights import load_model, missing_message

LITE = ["colorizer-lite", "stabilizer-lite", "cartoonizer-lite"]


def test_presets():
    assert set(PRESETS) == {
        "deoldify-video",
        "deoldify-stable",
        "deoldify-artistic",
        "colorizer-lite",
        "lai2018",
        "stabilizer-lite",
        "cartoongan",
        "cartoonizer-lite",
    }
    for name, p in PRESETS.items():
        assert isinstance(p, Preset) and p.name == name
        assert p.exact == (p.spec is not None)
    assert get_preset("colorize", "lite").name == "colorizer-lite"
    assert get_preset("stabilize", "lite").name == "stabilizer-lite"
    assert get_preset("cartoonize", "lite").name == "cartoonizer-lite"
    assert get_preset("stabilize", "lai2018").exact
    # DeOldify's stable weights: the video preset's network, another default render factor
    stable, video = PRESETS["deoldify-stable"], PRESETS["deoldify-video"]
    assert stable.config == video.config and stable.spec == video.spec and stable.options["render_factor"] == 35


@pytest.mark.parametrize("stage,name", [("colorize", "lai2018"), ("colorize", "nope"), ("recolor", "lite")])
def test_get_preset_refuses_with_one_line(stage, name):
    with pytest.raises(DeeperFourError) as e:
        get_preset(stage, name)
    assert "\n" not in str(e.value) and "valid" in str(e.value)
    if stage == "colorize":
        assert "deoldify-video" in str(e.value) and "colorizer-lite" in str(e.value)


@pytest.mark.parametrize("name", LITE)
def test_build_is_seeded_eval_float32(name):
    a, b = build_model(name), build_model(name)
    assert not a.training
    for (k, x), y in zip(a.state_dict().items(), b.state_dict().values()):
        assert torch.equal(x, y), k
        assert x.dtype in (torch.float32, torch.int64)
    assert torch.get_rng_state().equal(torch.get_rng_state())  # build does not consume the global RNG below
    state = torch.get_rng_state()
    build_model(name)
    assert torch.equal(state, torch.get_rng_state())


def test_load_model_without_weights(tmp_path, monkeypatch):
    monkeypatch.setenv("DEEPERFOUR_MODEL_STORE", str(tmp_path))
    with pytest.raises(WeightsError) as e:
        load_model("stabilize", "lai2018")
    assert str(e.value) == (
        "no weights for lai2018: import the published checkpoint (deeperfour weights import FILE --model lai2018)"
    )
    assert missing_message("colorizer-lite") == (
        "no weights for colorizer-lite: train them (deeperfour train …) or import them (deeperfour weights import …)"
    )
    assert "deeperfour weights download cartoongan:paprika" in missing_message("cartoongan-paprika")
    model, preset = load_model("stabilize", "lai2018", allow_random=True)
    assert preset.name == "lai2018" and model.weights_path is None
    ref = build_model("lai2018")
    assert all(torch.equal(x, y) for x, y in zip(model.state_dict().values(), ref.state_dict().values()))


def test_the_lite_presets_load_their_packaged_defaults(tmp_path, monkeypatch):
    monkeypatch.setenv("DEEPERFOUR_MODEL_STORE", str(tmp_path))  # empty: the packaged defaults answer
    model, preset = load_model("colorize")
    assert preset.name == "colorizer-lite"
    assert model.weights_path == packaged_dir() / "colorizer-lite.safetensors"


def test_load_model_from_store_name_and_path(tmp_path, monkeypatch):
    monkeypatch.setenv("DEEPERFOUR_MODEL_STORE", str(tmp_path))
    sd = {k: v + 1 if v.is_floating_point() else v for k, v in build_model("stabilizer-lite").state_dict().items()}
    save_file(sd, str(tmp_path / "stabilizer-lite.safetensors"))
    save_file(sd, str(tmp_path / "mine.safetensors"))
    for weights in (None, "mine", str(tmp_path / "mine.safetensors")):
        model, _ = load_model("stabilize", weights=weights)
        assert torch.equal(model.state_dict()["conv3.conv2d.bias"], sd["conv3.conv2d.bias"])
    with pytest.raises(WeightsError, match="not found"):
        load_model("stabilize", weights="missing")
    with pytest.raises(WeightsError, match="does not fit colorizer-lite"):
        load_model("colorize", weights="mine")
    with pytest.raises(WeightsError, match="import it first"):
        load_model("stabilize", weights=str(tmp_path / "lai.pth"))


def test_cartoongan_styles(tmp_path, monkeypatch):
    monkeypatch.setenv("DEEPERFOUR_MODEL_STORE", str(tmp_path))
    with pytest.raises(WeightsError, match="cartoongan-hosoda"):
        load_model("cartoonize", "cartoongan", style="Hosoda")
    with pytest.raises(WeightsError, match="valid: hayao, hosoda, paprika, shinkai"):
        load_model("cartoonize", "cartoongan", style="ghibli")


def test_colorize_adapter_contract():
    model = build_model("colorizer-lite")
    grey = torch.rand(3, 1, 45, 80, generator=torch.Generator().manual_seed(0))
    frames = grey.expand(-1, 3, -1, -1).contiguous()  # black-and-white film
    out = colorize(model, frames, PRESETS["colorizer-lite"].options["render_factor"])
    assert out.shape == frames.shape and out.dtype == torch.float32
    assert out.min() >= 0 and out.max() <= 1
    # the source's luminance is kept, up to uint8 YUV round trips and gamut clipping of strong chroma
    luma = lambda f: (0.299 * f[:, 0] + 0.587 * f[:, 1] + 0.114 * f[:, 2]) * 255
    assert (luma(out) - luma(frames)).abs().mean() < 1
    # batching does not change a frame's result
    rf = PRESETS["colorizer-lite"].options["render_factor"]
    torch.testing.assert_close(colorize(model, frames[1:2], rf), out[1:2], atol=1 / 255, rtol=0)


def test_cartoonize_adapter_contract():
    model = build_model("cartoonizer-lite")
    frames = torch.rand(2, 3, 36, 50, generator=torch.Generator().manual_seed(0))
    out = cartoonize(model, frames, PRESETS["cartoonizer-lite"].options["long_side"])
    assert out.shape == frames.shape and out.dtype == torch.float32 and out.min() >= 0 and out.max() <= 1


def test_stabilize_adapter_is_residual_and_unclipped():
    model = build_model("stabilizer-lite")
    g = torch.Generator().manual_seed(0)
    p, i = torch.rand(1, 3, 60, 100, generator=g), torch.rand(1, 3, 60, 100, generator=g)
    o_prev = p * 3 - 1  # raw feedback may leave [0, 1]
    o, state = stabilize_step(model, p, o_prev, i, i, None)
    y = o - p
    assert y.abs().max() <= 1  # tanh residual, upsampled bilinearly
    assert y.abs().max() > 0
    o2, state2 = stabilize_step(model, p, o, i, i, state)
    assert state2[0].shape == state[0].shape and o2.shape == p.shape
