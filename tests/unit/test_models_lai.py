"""Lai et al. TransformNet + ConvLSTM against ../shared/specs/lai_transformnet: 3 steps, state carried."""

import pytest
import torch
from spec_fill import filled_state_dict, load_vectors, read_keys, spec_dir

from deeperfour.models.registry import build_model
from deeperfour.models.stabilizer import stabilize_step, working_size

ATOL = 1e-5


@pytest.fixture(scope="module")
def lai():
    model = build_model("lai2018")
    model.load_state_dict(filled_state_dict("lai_transformnet"), strict=True)
    return model


def test_state_dict_keys_shapes_and_order():
    rows = read_keys(spec_dir("lai_transformnet") / "keys.tsv")
    sd = build_model("lai2018").state_dict()
    assert [(k, tuple(v.shape), str(v.dtype).removeprefix("torch.")) for k, v in sd.items()] == rows


def test_recurrence_matches_reference(lai):
    """The spec's loop on the bare model: X_t = cat(P_t, O_{t-1}, I_t, I_{t-1}), O_t = P_t + Y_t, raw feedback."""
    v = load_vectors("lai_transformnet")
    I, P = v["inputs"]["I"], v["inputs"]["P"]
    o, state = P[0], None
    for t in range(1, 4):
        x = torch.cat([P[t], o, I[t], I[t - 1]], dim=1)
        torch.testing.assert_close(x, v["model_inputs"][t - 1], atol=ATOL, rtol=0)
        with torch.no_grad():
            y, state = lai(x, state)
        o = P[t] + y
        for got, ref, what in ((y, v["Y"], "Y"), (state[0], v["h"], "h"), (state[1], v["c"], "c")):
            torch.testing.assert_close(got, ref[t - 1], atol=ATOL, rtol=0, msg=f"{what} at t={t}")
        torch.testing.assert_close(o, v["O"][t], atol=ATOL, rtol=0, msg=f"O at t={t}")
    torch.testing.assert_close(state[0], v["final_state"]["h"], atol=ATOL, rtol=0)
    torch.testing.assert_close(state[1], v["final_state"]["c"], atol=ATOL, rtol=0)


def test_frame_adapter_matches_reference(lai):
    """stabilize_step is the same recurrence (64x96 is a multiple of 4, so no resize at the exact scale)."""
    v = load_vectors("lai_transformnet")
    I, P = v["inputs"]["I"], v["inputs"]["P"]
    o, state = P[0], None
    for t in range(1, 4):
        o, state = stabilize_step(lai, P[t], o, I[t], I[t - 1], state)
        torch.testing.assert_close(o, v["O"][t], atol=ATOL, rtol=0)
        assert not state[0].requires_grad and not state[1].requires_grad
    torch.testing.assert_close(state[1], v["final_state"]["c"], atol=ATOL, rtol=0)


def test_normalisation_is_dead_code(lai):
    """The original never applies its IN layers: changing their buffers must not change the output."""
    x = torch.rand(1, 12, 32, 32, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        before, _ = lai(x)
        saved = {k: t.clone() for k, t in lai.state_dict().items() if "norm_layer" in k}
        for k, t in lai.state_dict().items():
            if "norm_layer.running" in k:
                t.add_(5.0)
        after, _ = lai(x)
        lai.load_state_dict({**lai.state_dict(), **saved})
    assert torch.equal(before, after)


@pytest.mark.parametrize("preset", ["lai2018", "stabilizer-lite"])
def test_odd_sizes_and_working_scale(preset):
    model = build_model(preset)
    g = torch.Generator().manual_seed(1)
    frames = torch.rand(3, 1, 3, 37, 70, generator=g)  # neither side a multiple of 4
    o, state = frames[0], None
    for t in (1, 2):
        o, state = stabilize_step(model, frames[t], o, frames[t], frames[t - 1], state)
        assert o.shape == (1, 3, 37, 70) and o.dtype == torch.float32
    h, w = working_size(37, 70, model.config.work_scale)
    assert h % 4 == 0 and w % 4 == 0
    assert state[0].shape == (1, model.config.lstm, h // 4, w // 4)


def test_working_size():
    assert working_size(360, 640, 1.0) == (360, 640)
    assert working_size(360, 640, 0.25) == (92, 160)
    assert working_size(37, 70, 1.0) == (40, 72)
