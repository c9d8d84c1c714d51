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
