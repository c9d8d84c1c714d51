"""`deeperfour weights import|list` through the argparse sub-command (the lead's cli.py adds it)."""

import argparse
import hashlib
import os

import pytest
import torch
from safetensors import safe_open

from deeperfour.errors import WeightsError
from deeperfour.models.registry import build_model
from deeperfour.models.weights import load_model
from deeperfour.models.weights_cli import add_weights_command


def cli(*argv) -> int:
    parser = argparse.ArgumentParser(prog="deeperfour")
    add_weights_command(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(list(argv))
    return args.func(args)


def checkpoint(preset: str) -> dict:
    """A state_dict of the preset's shapes with values unlike the seeded init."""
    return {k: (v * 0.5 + 0.25 if v.is_floating_point() else v) for k, v in build_model(preset).state_dict().items()}


def store_files(store):
    return sorted(p.name for p in store.iterdir()) if store.exists() else []


@pytest.mark.parametrize(
    "layout,legacy",
    [("bare", False), ("model", False), ("fastai", False), ("bare", True), ("fastai", True)],
)
def test_import_accepted_layouts(tmp_path, monkeypatch, layout, legacy, capsys):
    sd = checkpoint("lai2018")
    obj = {
        "bare": sd,
        "model": {"model": sd},
        "fastai": {"model": sd, "opt": {"state": {}, "param_groups": [{"lr": 1e-3, "betas": (0.9, 0.99)}]}},
    }[layout]
    src = tmp_path / "lai.pth"
    torch.save(obj, src, _use_new_zipfile_serialization=not legacy)
    store = tmp_path / "store"
    assert cli("weights", "import", str(src), "--model", "lai2018", "--store", str(store)) == 0
    assert store_files(store) == ["lai2018.safetensors"]
    assert "89 tensors" in capsys.readouterr().out
    with safe_open(str(store / "lai2018.safetensors"), "pt") as f:
        meta = f.metadata()
    assert meta["preset"] == "lai2018"
    assert meta["source_sha256"] == hashlib.sha256(src.read_bytes()).hexdigest()
    assert meta["source"] == str(src.resolve())

    monkeypatch.setenv("DEEPERFOUR_MODEL_STORE", str(store))
    model, preset = load_model("stabilize", "lai2018")
    assert preset.name == "lai2018"
    for k, v in model.state_dict().items():
        assert torch.equal(v, sd[k]), k


def test_import_cartoongan_style_and_half_precision(tmp_path, monkeypatch, capsys):
    sd = {k: v.half() for k, v in checkpoint("cartoongan").items()}  # e.g. a *_float16 file
    src = tmp_path / "Shinkai_net_G_float.pth"
    torch.save(sd, src)
    store = tmp_path / "store"
    assert cli("weights", "import", str(src), "--model", "cartoongan:Shinkai", "--store", str(store)) == 0
    assert store_files(store) == ["cartoongan-shinkai.safetensors"]
    monkeypatch.setenv("DEEPERFOUR_MODEL_STORE", str(store))
    model, _ = load_model("cartoonize", "cartoongan", style="shinkai")
    assert model.conv01_1.weight.dtype == torch.float32
    torch.testing.assert_close(model.conv01_1.weight, sd["conv01_1.weight"].float())
    capsys.readouterr()
    assert cli("weights", "list", "--store", str(store)) == 0
    listing = capsys.readouterr().out
    assert "cartoongan-shinkai" in listing and str(src.resolve()) in listing
    assert "cartoongan:hayao     not installed" in listing


class Exploit:
    marker = ""

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


def refused(tmp_path, src, model="lai2018") -> str:
    store = tmp_path / "store"
    with pytest.raises(WeightsError) as e:
        cli("weights", "import", str(src), "--model", model, "--store", str(store))
    assert store_files(store) == []  # nothing written, no temp file left
    message = str(e.value)
    assert "\n" not in message
    return message


@pytest.mark.parametrize("legacy", [False, True])
def test_refuses_code_running_pickle(tmp_path, legacy):
    Exploit.marker = str(tmp_path / "pwned")
    src = tmp_path / "evil.pth"
    torch.save({"model": checkpoint("lai2018"), "extra": Exploit()}, src, _use_new_zipfile_serialization=not legacy)
    assert "refused" in refused(tmp_path, src)
    assert not (tmp_path / "pwned").exists()


@pytest.mark.parametrize("legacy", [False, True])
def test_refuses_truncated(tmp_path, legacy):
    src = tmp_path / "cut.pth"
    torch.save(checkpoint("lai2018"), src, _use_new_zipfile_serialization=not legacy)
    data = src.read_bytes()
    src.write_bytes(data[: len(data) * 2 // 3])
    assert "truncated or corrupt" in refused(tmp_path, src)


def test_refuses_other_model(tmp_path):
    src = tmp_path / "Hayao_net_G_float.pth"
    torch.save(checkpoint("cartoongan"), src)
    message = refused(tmp_path, src, "lai2018")
    assert "is not a lai2018 checkpoint" in message and "89 missing" in message and "94 unexpected" in message


def test_refuses_one_wrong_shape(tmp_path):
    sd = checkpoint("lai2018")
    sd["deconv3.conv2d.bias"] = torch.zeros(4)
    src = tmp_path / "lai.pth"
    torch.save(sd, src)
    message = refused(tmp_path, src)
    assert "1 wrong shape (e.g. deconv3.conv2d.bias: got (4,), expected (3,))" in message
    assert "missing" not in message


def test_refuses_bad_model_names(tmp_path):
    src = tmp_path / "x.pth"
    torch.save(checkpoint("cartoongan"), src)
    assert "valid" in refused(tmp_path, src, "colorizer-lite")
    assert "style" in refused(tmp_path, src, "cartoongan")
    assert "valid: hayao" in refused(tmp_path, src, "cartoongan:ghibli")


@pytest.mark.parametrize("legacy", [False, True])
def test_lai_checkpoint_from_pytorch_0_4_0_imports(tmp_path, legacy, capsys):
    """Lai et al.'s checkpoint was saved by PyTorch 0.4.0, which wrote no num_batches_tracked buffers."""
    sd = {k: v for k, v in checkpoint("lai2018").items() if not k.endswith("num_batches_tracked")}
    assert len(sd) == 89 - 17
    src = tmp_path / "lai_old.pth"
    torch.save(sd, src, _use_new_zipfile_serialization=not legacy)
    store = tmp_path / "store"
    assert cli("weights", "import", str(src), "--model", "lai2018", "--store", str(store)) == 0
    out = capsys.readouterr().out
    assert "89 tensors" in out and "filled 17 num_batches_tracked counters" in out
    from safetensors.torch import load_file

    written = load_file(str(store / "lai2018.safetensors"))
    assert written["conv1a.norm_layer.num_batches_tracked"].item() == 0
    for k, v in sd.items():
        assert torch.equal(written[k], v), k


def test_old_checkpoint_still_refuses_missing_or_misshapen_tensors(tmp_path):
    base = {k: v for k, v in checkpoint("lai2018").items() if not k.endswith("num_batches_tracked")}
    missing = dict(base)
    del missing["conv1a.norm_layer.running_var"]  # a real buffer, not a counter
    src = tmp_path / "missing.pth"
    torch.save(missing, src)
    assert "1 missing (e.g. conv1a.norm_layer.running_var)" in refused(tmp_path, src)
    no_stats = {k: v for k, v in base.items() if not k.startswith("conv1a.norm_layer.running_")}
    torch.save(no_stats, src)  # without its running statistics, a counter is not filled either
    assert "3 missing" in refused(tmp_path, src)
    bad = dict(base)
    bad["conv1a.conv2d.weight"] = bad["conv1a.conv2d.weight"][:, :2]
    torch.save(bad, src)
    assert "1 wrong shape (e.g. conv1a.conv2d.weight" in refused(tmp_path, src)


def _weights_file(path, preset="stabilizer-lite", offset=1.0):
    from safetensors.torch import save_file

    path.parent.mkdir(parents=True, exist_ok=True)
    sd = {k: v + offset if v.is_floating_point() else v for k, v in build_model(preset).state_dict().items()}
    save_file(sd, str(path))
    return sd


def test_lookup_order_env_store_then_user_store_then_packaged(tmp_path, monkeypatch, capsys):
    from deeperfour.models.store import packaged_dir

    env, home = tmp_path / "env", tmp_path / "home"
    monkeypatch.setenv("XDG_DATA_HOME", str(home))
    monkeypatch.delenv("DEEPERFOUR_MODEL_STORE", raising=False)
    user = home / "deeperfour" / "weights"

    model, _ = load_model("stabilize")
    assert model.weights_path == packaged_dir() / "stabilizer-lite.safetensors"
    assert cli("weights", "list") == 0
    assert f"packaged               {packaged_dir()}" in capsys.readouterr().out

    from_user = _weights_file(user / "stabilizer-lite.safetensors", offset=1.0)
    model, _ = load_model("stabilize")
    assert model.weights_path == user / "stabilizer-lite.safetensors"
    assert torch.equal(model.state_dict()["conv3.conv2d.bias"], from_user["conv3.conv2d.bias"])

    monkeypatch.setenv("DEEPERFOUR_MODEL_STORE", str(env))
    model, _ = load_model("stabilize")
    assert model.weights_path == user / "stabilizer-lite.safetensors"  # an empty env store hides nothing
    _weights_file(env / "stabilizer-lite.safetensors", offset=2.0)
    model, _ = load_model("stabilize")
    assert model.weights_path == env / "stabilizer-lite.safetensors"

    capsys.readouterr()
    assert cli("weights", "list") == 0
    listing = capsys.readouterr().out
    assert listing.index(str(env)) < listing.index(str(user)) < listing.index(str(packaged_dir()))
    assert f"stabilize  stabilizer-lite      {env / 'stabilizer-lite.safetensors'}  (DEEPERFOUR_MODEL_STORE)" in listing
    assert f"colorize   colorizer-lite       {packaged_dir() / 'colorizer-lite.safetensors'}  (packaged)" in listing
    assert "colorize   deoldify-stable      not installed: deeperfour weights download deoldify-stable" in listing


def test_imports_go_to_the_user_store_unless_a_store_is_set(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("DEEPERFOUR_MODEL_STORE", raising=False)
    src = tmp_path / "lai.pth"
    torch.save(checkpoint("lai2018"), src)
    assert cli("weights", "import", str(src), "--model", "lai2018") == 0
    assert (tmp_path / "home" / "deeperfour" / "weights" / "lai2018.safetensors").is_file()
    monkeypatch.setenv("DEEPERFOUR_MODEL_STORE", str(tmp_path / "mine"))
    assert cli("weights", "import", str(src), "--model", "lai2018") == 0
    assert store_files(tmp_path / "mine") == ["lai2018.safetensors"]


def test_a_style_goes_to_cartoongan_only(tmp_path, monkeypatch):
    """`--cartoon hayao` hands the style to every stage: presets without styles must ignore it."""
    model, preset = load_model("colorize", style="hayao")
    assert preset.name == "colorizer-lite" and model.weights_path.name == "colorizer-lite.safetensors"
    monkeypatch.setenv("DEEPERFOUR_MODEL_STORE", str(tmp_path))
    with pytest.raises(WeightsError, match="no weights for cartoongan-hayao: download them"):
        load_model("cartoonize", "cartoongan", style="hayao")


def test_loaded_models_have_spectral_norm_folded_bit_for_bit(tmp_path, monkeypatch):
    """load_model folds spectral norm into plain weights: nothing is left to recompute per call, and the output is
    the unfolded model's exactly (fp32)."""
    from deeperfour.models import precision, registry
    from deeperfour.models.weights import load_into

    monkeypatch.setenv("DEEPERFOUR_MODEL_STORE", str(tmp_path))  # nothing installed there: the seeded random init
    for preset, x in [("deoldify-video", torch.rand(1, 3, 64, 64)), ("lite", torch.rand(1, 1, 64, 96))]:
        folded, spec = load_model("colorize", preset, allow_random=True)
        plain = build_model(spec)
        if folded.weights_path is not None:
            load_into(plain, folded.weights_path, spec)
        plain = plain.to(memory_format=torch.channels_last)  # as load_model gives it: the same convolution kernels
        assert any(hasattr(m, "weight_orig") for m in plain.modules())
        assert not any(hasattr(m, "weight_orig") for m in folded.modules())
        for m in (folded, plain):
            precision.prepare(m, "fp32")
        with torch.no_grad():
            assert torch.equal(registry.forward(folded, x), registry.forward(plain, x))
