"""Build colorizer.mar, stabilizer.mar and cartoonizer.mar with torch-model-archiver (`make mars`, test fixtures).

    python -m deeperfour.serving.archive [--out model_store] [--preset lite] [--weights-dir model_store]

A .mar holds the model server's handler (services/<name>/<name>_handler.py), its weights (<preset>.safetensors,
as --serialized-file) and model-config.yaml with the preset written into its handler block. The model code is not
in the archive: it comes from the installed deeperfour package.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

from deeperfour.config import REPO_ROOT, model_store
from deeperfour.errors import WeightsError

SERVERS = {"colorizer": "colorize", "stabilizer": "stabilize", "cartoonizer": "cartoonize"}
VERSION = "1.0"


def preset_name(server: str, preset: str) -> str:
    return f"{server}-lite" if preset == "lite" else preset


def build_mar(server: str, weights: str | Path, out_dir: str | Path, *, preset: str = "lite",
              handler_options: dict | None = None) -> Path:
    """Archive one model server; returns the .mar path."""
    weights = Path(weights)
    if not weights.is_file():
        raise WeightsError(f"{weights} is missing: train or import the {preset_name(server, preset)} weights first")
    service = REPO_ROOT / "services" / server
    config = yaml.safe_load((service / "model-config.yaml").read_text())
    config.setdefault("handler", {}).update(preset=preset_name(server, preset), **(handler_options or {}))
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="deeperfour-mar-") as tmp:
        cfg = Path(tmp) / "model-config.yaml"
        cfg.write_text(yaml.safe_dump(config, sort_keys=False))
        staged = Path(tmp) / f"{preset_name(server, preset)}.safetensors"  # the name the handler sees
        shutil.copyfile(weights, staged)
        archiver = Path(sys.executable).parent / "torch-model-archiver"
        subprocess.run([str(archiver), "--model-name", server, "--version", VERSION, "--serialized-file", str(staged),
                        "--handler", str(service / f"{server}_handler.py"), "--config-file", str(cfg),
                        "--export-path", str(out_dir), "--force"], check=True, capture_output=True)
    return out_dir / f"{server}.mar"


def build_mars(out_dir: str | Path, weights: dict[str, str | Path] | None = None, *,
               presets: dict[str, str] | None = None, handler_options: dict | None = None) -> list[Path]:
    """All three archives; presets[server] defaults to 'lite', weights[server] to model_store/<preset>.safetensors."""
    weights, presets = weights or {}, presets or {}
    mars = []
    for server in SERVERS:
        preset = presets.get(server, "lite")
        path = weights.get(server) or model_store() / f"{preset_name(server, preset)}.safetensors"
        mars.append(build_mar(server, path, out_dir, preset=preset, handler_options=handler_options))
    return mars


def parse_presets(text: str) -> dict[str, str]:
    """'lite' or 'stabilizer=lai2018,colorizer=deoldify-video' (unnamed servers stay lite)."""
    if text == "lite":
        return {}
    presets = dict(item.split("=", 1) for item in text.split(",") if "=" in item)
    unknown = set(presets) - set(SERVERS)
    if unknown or not presets:
        raise WeightsError(f"--preset {text!r}: use lite or <server>=<preset>,… with servers {', '.join(SERVERS)}")
    return presets


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deeperfour.serving.archive")
    parser.add_argument("--out", default=str(REPO_ROOT / "model_store"))
    parser.add_argument("--preset", default="lite", help="lite, or <server>=<preset>,… e.g. stabilizer=lai2018")
    parser.add_argument("--weights-dir", default=None, help="where <preset>.safetensors live (default: model_store)")
    args = parser.parse_args(argv)
    store = Path(args.weights_dir) if args.weights_dir else model_store()
    try:
        presets = parse_presets(args.preset)
        weights = {s: store / f"{preset_name(s, presets.get(s, 'lite'))}.safetensors" for s in SERVERS}
        for mar in build_mars(args.out, weights, presets=presets):
            print(mar)
    except WeightsError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0

if __name__ == "__main__":
    sys.exit(main())
