"""The loop every trainer runs: resume, step, log, checkpoint, stop on a step or time budget, export weights."""

from __future__ import annotations

import copy
import sys
import time
from pathlib import Path

import numpy as np
import torch

from deeperfour.models import registry
from deeperfour.train.common import Checkpoint, LossLog, export_weights


class Trainer:
    """Subclasses set `stage`, fill self.nets and self.opts and implement step(i) -> losses; self.model (the
    exported network) is the stage's preset, built here."""

    stage = ""

    def __init__(self, cfg: dict, out_dir, *, quiet: bool = False):
        self.cfg, self.out_dir, self.quiet = cfg, Path(out_dir), quiet
        self.out_dir.mkdir(parents=True, exist_ok=True)
        torch.set_num_threads(int(cfg.get("threads", torch.get_num_threads())))
        self.steps = int(cfg["steps"])
        self.device = torch.device(cfg.get("device", "cpu"))
        if self.device.type == "cuda" and not torch.cuda.is_available():
            from deeperfour.errors import DeeperFourError

            raise DeeperFourError("this config asks for device: cuda but no CUDA GPU is available; use a cpu-* config")
        self.preset = registry.get_preset(self.stage, cfg.get("preset", "lite"))
        self.model = registry.build_model(self.preset)
        if cfg.get("init_weights"):  # fine-tuning: start from exported weights (an installed name or a path)
            from deeperfour.models import weights

            weights.load_into(self.model, weights.resolve_weights(self.preset, cfg["init_weights"]), self.preset)
        self.model = self.model.to(self.device, memory_format=torch.channels_last)  # faster convolutions, CPU and GPU
        self.nets: dict = {}
        self.opts: dict = {}
        self.rng = np.random.default_rng(int(cfg.get("seed", 0)))  # the data sampler's; saved in checkpoints

    # --- to implement ------------------------------------------------------------------------------------------
    def step(self, i: int) -> dict:  # pragma: no cover - abstract
        raise NotImplementedError

    def export_meta(self) -> dict:
        return {}

    # --- the loop ----------------------------------------------------------------------------------------------
    def run(self, *, resume: bool = True, export: str | None = None) -> dict:
        ckpt = Checkpoint(self.out_dir / "checkpoint.safetensors")
        decay = float(self.cfg.get("ema", 0))
        if decay:  # a running average of the weights, checkpointed like a net and exported instead of the live one
            self.nets["ema"] = copy.deepcopy(self.model).requires_grad_(False)
        start = 0
        if resume and ckpt.exists():
            start, extra = ckpt.load(self.nets, self.opts)
            if "data_rng" in extra:
                self.rng.bit_generator.state = extra["data_rng"]
            self.say(f"resumed from {ckpt.path} at step {start}")
        log = LossLog(self.out_dir, self.steps, every=int(self.cfg.get("log_every", 10)), quiet=self.quiet)
        every = int(self.cfg.get("checkpoint_every", 100))
        budget = float(self.cfg.get("max_minutes", 0)) * 60
        t0 = time.monotonic()
        i = start
        for i in range(start + 1, self.steps + 1):
            for net in self.nets.values():
                net.train()
            losses = self.step(i)
            if decay:
                self._average(decay)
            log.log(i, losses, first_step=start)
            if i % every == 0:
                ckpt.save(i, self.nets, self.opts, self._extra())
            if budget and time.monotonic() - t0 > budget:
                self.say(f"time budget of {budget / 60:.0f} min reached at step {i}/{self.steps}")
                break
        ckpt.save(i, self.nets, self.opts, self._extra())
        self.model.eval()
        exported = self.model
        if decay:  # averaged spectral-norm vectors are no longer the singular vectors: a few power iterations
            exported = self.nets["ema"].eval()
            registry.settle_spectral_norm(exported)
        result = {"steps_done": i, "checkpoint": str(ckpt.path), "minutes": round((time.monotonic() - t0) / 60, 2)}
        if export:
            meta = {"steps": i, **({"ema": decay} if decay else {}), **self.export_meta()}
            result["weights"] = str(
                export_weights(exported, export, self.preset.name, meta, self.cfg.get("export_dtype", "float32"))
            )
            self.say(f"wrote {result['weights']}")
        return result

    @torch.no_grad()
    def _average(self, decay: float) -> None:
        """ema <- decay * ema + (1 - decay) * model, batch-norm statistics included; integer buffers copied."""
        live = self.model.state_dict()
        for k, v in self.nets["ema"].state_dict().items():
            if v.is_floating_point():
                v.lerp_(live[k], 1 - decay)
            else:
                v.copy_(live[k])

    def _extra(self) -> dict:
        return {"data_rng": self.rng.bit_generator.state}

    def autocast(self):
        """bfloat16 autocast of the forward passes when the config says `autocast: bf16` (CPUs with AVX-512 BF16
        and GPUs run it about twice as fast); losses are computed in float32."""
        return torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.cfg.get("autocast") == "bf16")

    def say(self, msg: str) -> None:
        if not self.quiet:
            print(msg, file=sys.stderr, flush=True)
