"""CLI command `deeperfour train colorizer|stabilizer|cartoonizer --config FILE` (registered by deeperfour.cli)."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

from deeperfour import settings
from deeperfour.pipeline.table import COMPONENTS

TRAINERS = {c: f"deeperfour.train.{c}:{c.capitalize()}Trainer" for c in COMPONENTS}  # train/<component>.py
CONFIGS = Path(str(resources.files("deeperfour.train") / "configs"))  # package data in the wheel (pyproject.toml)


def config_path(config) -> Path:
    """A config file, or the name of a shipped one ('cpu-colorizer' -> configs/cpu-colorizer.yaml)."""
    path = Path(config)
    if not path.exists():
        for candidate in (CONFIGS / path.name, CONFIGS / f"{path.name}.yaml"):
            if candidate.exists():
                return candidate
    return path


def trainer_class(model: str):
    import importlib

    module, name = TRAINERS[model].split(":")
    return getattr(importlib.import_module(module), name)


def train(
    model: str,
    config,
    out_dir=None,
    *,
    resume: bool = True,
    export=None,
    overrides: dict | None = None,
    quiet: bool = False,
) -> dict:
    """Run (or resume) one training; returns a summary dict. `overrides` replace config keys (e.g. steps)."""
    from deeperfour.train.common import load_config, seed_everything

    config = config_path(config)
    cfg = {**load_config(config), **(overrides or {})}
    cfg.setdefault("data_root", str(settings.current().data_root))
    seed_everything(int(cfg.get("seed", 0)))
    out_dir = Path(out_dir or Path("runs") / f"{model}-{Path(config).stem}")
    trainer = trainer_class(model)(cfg, out_dir, quiet=quiet)
    return trainer.run(resume=resume, export=export)


def run_train(args) -> int:
    export = args.export
    if export == "store":
        from deeperfour.models import registry

        preset = registry.get_preset(trainer_class(args.model).stage, "lite")
        export = str(settings.current().model_store / f"{preset.name}.safetensors")
    overrides = {"steps": args.steps} if args.steps else {}
    if args.max_minutes is not None:
        overrides["max_minutes"] = args.max_minutes
    if args.init:
        overrides["init_weights"] = args.init
    if args.seed is not None:
        overrides["seed"] = args.seed
    result = train(args.model, args.config, args.out, resume=not args.restart, export=export, overrides=overrides)
    print(json.dumps(result, indent=2))
    return 0


def add_train_command(subparsers) -> None:
    """Adds `train` to an argparse subparsers object; sets args.func(args) -> int."""
    p = subparsers.add_parser(
        "train",
        help="train a model (colorizer, stabilizer, cartoonizer) on ../shared/data",
        description=f"Trains one model from a YAML/JSON config (shipped configs: {CONFIGS}); resumes from the "
        "checkpoint in --out when there is one.",
    )
    p.add_argument("model", choices=sorted(TRAINERS))
    p.add_argument(
        "--config",
        required=True,
        help="training config file, or a shipped one by name: cpu-colorizer, gpu-stabilizer, …",
    )
    p.add_argument("--out", help="run folder for the checkpoint and log.jsonl (default runs/<model>-<config>)")
    p.add_argument(
        "--export",
        help="write the trained weights here (safetensors); 'store' = <preset>.safetensors in the writable model "
        "store (DEEPERFOUR_MODEL_STORE, else the per-user store)",
    )
    p.add_argument("--steps", type=int, help="override the config's number of steps")
    p.add_argument("--max-minutes", type=float, help="stop (checkpoint and export) after this many minutes")
    p.add_argument("--init", help="fine-tune: start from these weights (an installed name or a .safetensors path)")
    p.add_argument("--seed", type=int, help="override the config's seed (a new leg sees new crops and degradations)")
    p.add_argument("--restart", action="store_true", help="ignore an existing checkpoint and start over")
    p.set_defaults(func=run_train)
