"""DeOldify ports against the reference vectors (../shared/specs/deoldify_*): keys, outputs, intermediates."""

import pytest
import torch
from spec_fill import filled_state_dict, load_vectors, read_keys, spec_dir

from deeperfour.models.registry import PRESETS, build_model

OUT_ATOL, MID_ATOL = 1e-5, 1e-4
CASES = [("deoldify-video", "deoldify_video"), ("deoldify-artistic", "deoldify_artistic")]
_cache = {}


def filled_model(preset: str, spec: str):
    if preset not in _cache:
        model = build_model(preset)
        model.load_state_dict(filled_state_dict(spec), strict=True)
        _cache[preset] = model
    return _cache[preset]


def run_with_hooks(model, x, names):
    """Output of the model, and a clone of each named module's output (names may carry '[:, :k]')."""
    seen, hooks = {}, []
    for name in names:
        module = model.get_submodule(name.split("[")[0])
        hooks.append(module.register_forward_hook(lambda m, i, o, name=name: seen.__setitem__(name, o.clone())))
    try:
        with torch.no_grad():
            out = model(x)
    finally:
        for h in hooks:
            h.remove()
    return out, seen


def check(model, vectors, inp):
    refs = vectors["intermediates"][inp]
    out, seen = run_with_hooks(model, vectors["inputs"][inp], refs)
    for name, ref in refs.items():
        got = seen[name][:, : ref.shape[1]]
        assert got.shape == ref.shape, name
        torch.testing.assert_close(got, ref, atol=MID_ATOL, rtol=0, msg=f"{inp} {name}")
    torch.testing.assert_close(out, vectors["outputs"][inp], atol=OUT_ATOL, rtol=0)


@pytest.mark.parametrize("preset,spec", CASES)
def test_state_dict_keys_shapes_and_order(preset, spec):
    rows = read_keys(spec_dir(spec) / "keys.tsv")
    sd = filled_model(preset, spec).state_dict()  # strict load done; names, shapes, dtypes and order here
    assert [(k, tuple(v.shape), str(v.dtype).removeprefix("torch.")) for k, v in sd.items()] == rows


@pytest.mark.parametrize("preset,spec", CASES)
@pytest.mark.parametrize("inp", ["x64", "x80"])  # x80 exercises the nearest size fix in layers.4
def test_matches_reference(preset, spec, inp):
    check(filled_model(preset, spec), load_vectors(spec), inp)


@pytest.mark.slow
@pytest.mark.parametrize("preset,spec", CASES)
def test_matches_reference_at_render_size_336(preset, spec):
    """The real render size for render_factor 21 (several seconds per model on 2 cores)."""
    check(filled_model(preset, spec), load_vectors(spec), "x336")


def test_checkpoints_do_not_cross_load():
    with pytest.raises(RuntimeError, match="size mismatch"):
        filled_model("deoldify-artistic", "deoldify_artistic").load_state_dict(
            filled_state_dict("deoldify_video"), strict=True
        )


def test_defaults_match_deoldify():
    assert PRESETS["deoldify-video"].options["render_factor"] == 21
    assert PRESETS["deoldify-artistic"].options["render_factor"] == 35
