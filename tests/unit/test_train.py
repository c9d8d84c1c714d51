"""Trainers: a couple of steps on tiny generated data, exact resume from a checkpoint, and the shipped weights."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from deeperfour.train.cli import CONFIGS, train

REPO = Path(__file__).resolve().parents[2]


def texture(h, w, seed):
    rng = np.random.default_rng(seed)
    img = cv2.GaussianBlur(rng.integers(0, 256, (h, w, 3), dtype=np.uint8), (0, 0), 3.0)
    return cv2.normalize(img, None, 0, 255, cv2.NORM_MINMAX)


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    """photos/, cartoons/ (flat colours, dark outlines) and clips/ (a small panning video) in a temp folder."""
    root = tmp_path_factory.mktemp("data")
    for sub in ("photos", "cartoons", "clips"):
        (root / sub).mkdir()
    for k in range(3):
        cv2.imwrite(str(root / "photos" / f"p{k}.png"), texture(96, 128, k))
        flat = (texture(96, 128, 10 + k) // 64 * 64).astype(np.uint8)
        cv2.imwrite(str(root / "cartoons" / f"c{k}.png"), cv2.rectangle(flat, (20, 20), (80, 70), (0, 0, 0), 2))
    from deeperfour.video.io import Encoder
    from deeperfour.video.probe import VideoInfo

    big = texture(96, 256, 20)
    info = VideoInfo(
        path="",
        width=128,
        height=96,
        fps=Fraction(25),
        frame_count=12,
        duration=0.48,
        rotation=0,
        start_time=0.0,
        audio_streams=0,
        subtitle_streams=0,
        container="mp4",
        variable_frame_rate=False,
    )
    enc = Encoder(str(root / "clips" / "pan.mp4"), info, audio_from=None)
    for t in range(12):
        enc.write(np.ascontiguousarray(big[:, 4 * t : 4 * t + 128, ::-1]))
    enc.close()
    return root


TINY = {
    "colorizer": dict(
        photos=["photos/*"],
        clips=["clips/*"],
        clip_stride=4,
        batch_size=2,
        train_size=32,
        backbone=None,
        prior_batches=2,
    ),
    "stabilizer": dict(
        photos=["photos/*"],
        clips=["clips/*"],
        batch_size=1,
        frames=3,
        crop=48,
        photo_short_side=96,
        processors=["jitter", "tint"],
        photo_p=0.5,
        features="none",
    ),
    "cartoonizer": dict(
        photos=["photos/*"], cartoons=["cartoons/*"], batch_size=2, crop=48, warmup_steps=1, disc_nf=4, features="none"
    ),
}


def overrides(model, data_root, steps):
    return {
        "data_root": str(data_root),
        "steps": steps,
        "checkpoint_every": 1,
        "threads": 1,
        "max_minutes": 0,
        "seed": 3,
        **TINY[model],
    }


@pytest.mark.parametrize("model", ["colorizer", "stabilizer", "cartoonizer"])
def test_trainer_runs_and_resumes_exactly(model, data_root, tmp_path):
    config = CONFIGS / f"cpu-{model}{'-decoder' if model == 'colorizer' else ''}.yaml"
    straight = train(
        model,
        config,
        tmp_path / "a",
        overrides=overrides(model, data_root, 2),
        quiet=True,
        export=tmp_path / "a.safetensors",
    )
    assert straight["steps_done"] == 2
    log = [json.loads(line) for line in (tmp_path / "a" / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == [1, 2]
    assert all(np.isfinite(v) for r in log for k, v in r.items() if k not in ("step", "time"))

    train(model, config, tmp_path / "b", overrides=overrides(model, data_root, 1), quiet=True)
    resumed = train(
        model,
        config,
        tmp_path / "b",
        overrides=overrides(model, data_root, 2),
        quiet=True,
        export=tmp_path / "b.safetensors",
    )
    assert resumed["steps_done"] == 2
    a, b = load_file(str(tmp_path / "a.safetensors")), load_file(str(tmp_path / "b.safetensors"))
    assert a.keys() == b.keys()
    for k in a:  # same data, same RNG, same optimizer moments: the resumed run is the straight run
        torch.testing.assert_close(a[k], b[k], rtol=1e-5, atol=1e-6, msg=k)

    # and the exported file is a valid weights file for the preset's inference model
    from deeperfour.models import registry
    from deeperfour.models.weights import load_model

    stage = {"colorizer": "colorize", "stabilizer": "stabilize", "cartoonizer": "cartoonize"}[model]
    net, _ = load_model(stage, "lite", str(tmp_path / "a.safetensors"))
    before = registry.build_model(registry.get_preset(stage, "lite")).state_dict()
    assert any(not torch.equal(before[k], v) for k, v in net.state_dict().items() if v.is_floating_point())


def test_a_damaged_checkpoint_is_one_readable_error(data_root, tmp_path):
    from deeperfour.errors import WeightsError

    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "checkpoint.safetensors").write_bytes(b"not a checkpoint")
    with pytest.raises(WeightsError, match="not a readable training checkpoint"):
        train(
            "colorizer",
            CONFIGS / "cpu-colorizer-decoder.yaml",
            tmp_path / "run",
            overrides=overrides("colorizer", data_root, 1),
            quiet=True,
        )


@pytest.mark.parametrize("preset", ["colorizer-lite", "stabilizer-lite", "cartoonizer-lite"])
def test_shipped_weights_load_and_run(preset):
    path = REPO / "model_store" / f"{preset}.safetensors"
    if not path.exists():
        pytest.skip(f"{path} is not shipped yet")
    from deeperfour.pipeline.stages import build_stage

    stage = {"colorizer-lite": "colorize", "stabilizer-lite": "stabilize", "cartoonizer-lite": "cartoonize"}[preset]
    s = build_stage(stage, preset="lite", weights=str(path))
    frames = torch.from_numpy(texture(72, 96, 1)).permute(2, 0, 1).float()[None].repeat(3, 1, 1, 1) / 255
    frames[1:] = torch.roll(frames[1:], 2, dims=-1)
    out, _ = s(frames, frames, None)
    assert out.shape == frames.shape and torch.isfinite(out).all()
    assert out.min() >= 0 and out.max() <= 1
    if stage == "colorize":  # a trained colorizer gives colour to a grey frame
        grey = frames.mean(1, keepdim=True).repeat(1, 3, 1, 1)
        col, _ = s(grey, grey, None)
        assert (col.max(1).values - col.min(1).values).mean() > 0.01


def test_fine_tuning_starts_from_the_given_weights(data_root, tmp_path):
    first = dict(config=CONFIGS / "cpu-stabilizer.yaml", overrides=overrides("stabilizer", data_root, 1))
    train(
        "stabilizer",
        first["config"],
        tmp_path / "a",
        overrides=first["overrides"],
        quiet=True,
        export=tmp_path / "a.safetensors",
    )
    # lr 0: the fine-tune's step changes nothing, so its export is exactly the weights it started from
    tune = {**overrides("stabilizer", data_root, 1), "init_weights": str(tmp_path / "a.safetensors"), "lr": 0.0}
    train(
        "stabilizer",
        CONFIGS / "cpu-stabilizer-finetune.yaml",
        tmp_path / "b",
        overrides=tune,
        quiet=True,
        export=tmp_path / "b.safetensors",
    )
    a, b = load_file(str(tmp_path / "a.safetensors")), load_file(str(tmp_path / "b.safetensors"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_ema_exports_the_running_average_and_resumes_it(data_root, tmp_path):
    def run(name, steps, **extra):
        tune = {
            **overrides("stabilizer", data_root, steps),
            "init_weights": str(tmp_path / "w0.safetensors"),
            "lr": 0.01,
            **extra,
        }
        config = CONFIGS / "cpu-stabilizer-finetune.yaml"
        train(
            "stabilizer", config, tmp_path / name, overrides=tune, quiet=True, export=tmp_path / f"{name}.safetensors"
        )
        return load_file(str(tmp_path / f"{name}.safetensors"))

    start = overrides("stabilizer", data_root, 1)
    train(
        "stabilizer",
        CONFIGS / "cpu-stabilizer.yaml",
        tmp_path / "w0",
        overrides=start,
        quiet=True,
        export=tmp_path / "w0.safetensors",
    )
    w0 = load_file(str(tmp_path / "w0.safetensors"))
    w1, w2 = run("live1", 1), run("live2", 2)  # the live weights after each step (the runs are deterministic)
    ema = run("ema", 2, ema=0.75)
    for k, v in ema.items():
        if v.is_floating_point():  # ema_2 = 0.75 (0.75 w0 + 0.25 w1) + 0.25 w2
            want = 0.5625 * w0[k] + 0.1875 * w1[k] + 0.25 * w2[k]
            torch.testing.assert_close(v, want, rtol=1e-5, atol=1e-6, msg=k)
    assert any(not torch.equal(ema[k], w2[k]) for k in ema if ema[k].is_floating_point())

    run("resumed", 1, ema=0.75)  # one step, then resumed to two from its checkpoint: the average carries over
    resumed = run("resumed", 2, ema=0.75)
    assert all(torch.equal(resumed[k], ema[k]) for k in ema)


def test_ema_of_a_spectral_norm_network_exports_unit_singular_vectors(data_root, tmp_path):
    # an average of power-iteration vectors is shorter than one, which would inflate every normalised weight
    config = CONFIGS / "cpu-colorizer-decoder.yaml"
    tiny = {**overrides("colorizer", data_root, 2), "ema": 0.5}
    train("colorizer", config, tmp_path / "run", overrides=tiny, quiet=True, export=tmp_path / "ema.safetensors")
    vectors = {
        k: v for k, v in load_file(str(tmp_path / "ema.safetensors")).items() if k.endswith(("weight_u", "weight_v"))
    }
    assert vectors and all(abs(float(v.float().norm()) - 1) < 1e-3 for v in vectors.values())


BACKBONE = REPO.parent / "shared" / "data" / "train" / "backbones"


@pytest.mark.slow
@pytest.mark.skipif(not BACKBONE.is_dir(), reason="../shared/data/train/backbones is absent")
def test_train_gpu_script_runs_on_the_cpu(tmp_path):
    """`make train-gpu`'s script end to end with two tiny steps per model, on data laid out as tools/gpu_data.py
    packs it (photos per source, clips as folders of frames, the backbone, cartoon-style images)."""
    import shutil
    import subprocess
    import sys

    data = tmp_path / "data"
    for k in range(3):  # the first photo of a source is in the validation split
        path = data / "train" / "photos" / "bsds500" / f"{k}.jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(path), texture(96, 128, k))
    big = texture(96, 256, 20)
    for clip in ("bear", "pan"):  # bear: a validation clip
        for t in range(6):
            path = data / "train" / "video" / "davis2016" / clip / f"{t:05d}.jpg"
            path.parent.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(path), np.ascontiguousarray(big[:, 4 * t : 4 * t + 128]))
    shutil.copytree(BACKBONE, data / "train" / "backbones")
    (data / "cartoon_style" / "x_frames").mkdir(parents=True)
    for k in range(2):
        cv2.imwrite(str(data / "cartoon_style" / "x_frames" / f"{k}.jpg"), (texture(96, 128, 30 + k) // 64 * 64))
    out = tmp_path / "out"
    cmd = [sys.executable, str(REPO / "tools" / "train_gpu.py"), "--data", str(data), "--out", str(out)]
    run = subprocess.run([*cmd, "--device", "cpu", "--smoke"], capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stderr[-2000:]
    for preset in ("colorizer-lite", "stabilizer-lite", "cartoonizer-lite"):
        assert (out / f"{preset}.safetensors").is_file()
    assert run.stdout.count("== targets, validation split") == 2  # the new weights', then the installed ones'
