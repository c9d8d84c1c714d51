"""What every trainer shares: configs, seeds, resumable pickle-free checkpoints, loss logging, exported weights.

A training checkpoint is one safetensors file: the model's tensors under `model.`, each other network's under
`<name>.`, the Adam moments under `opt.<name>.<index>.exp_avg|exp_avg_sq` (index = the parameter's position), and
the step, the RNG state and the config in the metadata. Nothing is unpickled at load.
"""

from __future__ import annotations

import json
import os
import random
import sys
import time
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, safe_open, save_file

from deeperfour.errors import DeeperFourError, WeightsError
from deeperfour.settings import DATA_ROOT as DATA_ROOT  # config default; train() fills it from the settings


def load_config(path) -> dict:
    """A YAML (.yaml/.yml) or JSON training config; `data_root` defaults to ../shared/data."""
    path = Path(path)
    if not path.exists():
        raise DeeperFourError(f"{path}: no such config; the shipped ones are in {Path(__file__).parent / 'configs'}")
    text = path.read_text()
    if path.suffix in (".yaml", ".yml"):
        try:
            import yaml
        except ImportError:
            raise DeeperFourError("YAML configs need pyyaml: pip install pyyaml (or use a .json config)") from None
        cfg = yaml.safe_load(text)
    else:
        cfg = json.loads(text)
    if not isinstance(cfg, dict):
        raise DeeperFourError(f"{path}: a config must be a mapping of settings")
    return cfg


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _rng_state() -> dict:
    return {
        "python": repr(random.getstate()),
        "numpy": json.dumps([x.tolist() if isinstance(x, np.ndarray) else x for x in np.random.get_state()]),
    }


def _set_rng_state(meta: dict, tensors: dict) -> None:
    import ast

    random.setstate(ast.literal_eval(meta["rng.python"]))
    st = json.loads(meta["rng.numpy"])
    np.random.set_state((st[0], np.array(st[1], dtype=np.uint32), *st[2:]))
    torch.set_rng_state(tensors["rng.torch"])


class Checkpoint:
    """save(step, nets, opts, extra) / load(nets, opts) -> (step, extra) on one safetensors file."""

    def __init__(self, path):
        self.path = Path(path)

    def exists(self) -> bool:
        return self.path.exists()

    def save(self, step: int, nets: dict, opts: dict, extra: dict | None = None) -> None:
        tensors = {}
        for name, net in nets.items():
            for k, v in net.state_dict().items():
                tensors[f"{name}.{k}"] = v.detach().cpu().contiguous()
        meta = {"step": str(step), "extra": json.dumps(extra or {})}
        for name, opt in opts.items():
            sd = opt.state_dict()
            meta[f"opt.{name}.groups"] = json.dumps(sd["param_groups"])
            for idx, st in sd["state"].items():
                for k, v in st.items():
                    tensors[f"opt.{name}.{idx}.{k}"] = torch.as_tensor(v).detach().cpu().contiguous()
        tensors["rng.torch"] = torch.get_rng_state()
        meta.update({f"rng.{k}": v for k, v in _rng_state().items()})
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        save_file(tensors, str(tmp), metadata=meta)
        os.replace(tmp, self.path)

    def load(self, nets: dict, opts: dict) -> tuple[int, dict]:
        try:
            tensors = load_file(str(self.path))
            with safe_open(str(self.path), "pt") as f:
                meta = f.metadata() or {}
        except Exception as e:  # safetensors raises several types for a damaged file
            raise WeightsError(
                f"{self.path}: not a readable training checkpoint ({e}); delete it to start over"
            ) from None
        for name, net in nets.items():
            prefix = f"{name}."
            sd = {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}
            try:
                net.load_state_dict(sd, strict=True)
            except RuntimeError:
                raise WeightsError(
                    f"{self.path}: checkpoint of another model or config; delete it or use another out_dir"
                ) from None
        for name, opt in opts.items():
            state: dict = {}
            prefix = f"opt.{name}."
            for k, v in tensors.items():
                if k.startswith(prefix):
                    idx, key = k[len(prefix) :].split(".", 1)
                    state.setdefault(int(idx), {})[key] = v
            opt.load_state_dict({"state": state, "param_groups": json.loads(meta[f"opt.{name}.groups"])})
        _set_rng_state(meta, tensors)
        return int(meta["step"]), json.loads(meta.get("extra", "{}"))


class LossLog:
    """Progress on stderr every `every` steps and every step's losses as JSON lines in <out_dir>/log.jsonl."""

    def __init__(self, out_dir, total_steps: int, every: int = 10, quiet: bool = False):
        self.file = Path(out_dir) / "log.jsonl"
        self.total, self.every, self.quiet = total_steps, max(1, every), quiet
        self.t0 = time.monotonic()
        self.window: dict[str, list[float]] = {}

    def log(self, step: int, losses: dict, first_step: int = 0) -> None:
        row = {
            "step": step,
            "time": round(time.monotonic() - self.t0, 2),
            **{k: round(float(v), 6) for k, v in losses.items()},
        }
        with self.file.open("a") as f:
            f.write(json.dumps(row) + "\n")
        for k, v in losses.items():
            self.window.setdefault(k, []).append(float(v))
        if not self.quiet and (step % self.every == 0 or step == self.total):
            done = step - first_step
            rate = done / max(time.monotonic() - self.t0, 1e-9)
            eta = (self.total - step) / rate if rate > 0 else 0
            avg = " ".join(f"{k} {np.mean(v):.4f}" for k, v in self.window.items())
            print(
                f"step {step}/{self.total}  {avg}  ({rate:.2f} it/s, eta {eta / 60:.1f} min)",
                file=sys.stderr,
                flush=True,
            )
            self.window = {}


def export_weights(
    model: torch.nn.Module, path, preset_name: str, extra_meta: dict | None = None, dtype: str = "float32"
) -> Path:
    """The model's state_dict as the inference weights file (safetensors, written to a temp name then renamed).

    dtype float16 halves the file (the store must stay small); load_state_dict casts back to float32 on load."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    cast = getattr(torch, dtype)
    tensors = {
        k: (v.detach().to(cast) if v.is_floating_point() else v.detach()).cpu().contiguous()
        for k, v in model.state_dict().items()
    }
    meta = {
        "preset": preset_name,
        "format": "deeperfour",
        "dtype": dtype,
        **{k: str(v) for k, v in (extra_meta or {}).items()},
    }
    tmp = path.with_name(path.name + ".tmp")
    save_file(tensors, str(tmp), metadata=meta)
    os.replace(tmp, path)
    return path


def adam(params, cfg: dict) -> torch.optim.Adam:
    return torch.optim.Adam(params, lr=float(cfg.get("lr", 1e-4)), betas=tuple(cfg.get("betas", (0.9, 0.999))))
