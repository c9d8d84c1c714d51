"""Build colorizer.mar, stabilizer.mar and cartoonizer.mar with torch-model-archiver (`make mars`, test fixtures).

    python -m tools.archive [--out model_store] [--preset lite] [--weights-dir model_store] [--services services]

A .mar holds the model server's handler (services/<component>/<component>_handler.py), its weights
(<preset>.safetensors, as --serialized-file) and model-config.yaml with the preset written into its handler block.
The model code is not in the archive: it comes from the installed deeperfour package.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

from deeperfour import settings
from deeperfour.errors import WeightsError
from deeperfour.pipeline.table import COMPONENTS

VERSION = "1.0"
SERVICES = Path("services")  # the repository's services/ folder, from the repository root


def preset_name(component: str, preset: str) -> str:
    return f"{component}-lite" if preset == "lite" else preset


def build_mar(
    component: str,
    weights: str | Path,
    out_dir: str | Path,
    *,
    preset: str = "lite",
    handler_options: dict | None = None,
    services: Path = SERVICES,
) -> Path:
    """Archive one model server; returns the .mar path."""
    weights = Path(weights)
    if not weights.is_file():
        raise WeightsError(f"{weights} is missing: train or import the {preset_name(component, preset)} weights first")
    service = Path(services) / component
    config = yaml.safe_load((service / "model-config.yaml").read_text())
    config.setdefault("handler", {}).update(preset=preset_name(component, preset), **(handler_options or {}))
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="deeperfour-mar-") as tmp:
        cfg = Path(tmp) / "model-config.yaml"
        cfg.write_text(yaml.safe_dump(config, sort_keys=False))
        staged = Path(tmp) / f"{preset_name(component, preset)}.safetensors"  # the name the handler sees
        shutil.copyfile(weights, staged)
        archiver = Path(sys.executable).parent / "torch-model-archiver"
        subprocess.run(
            [
                str(archiver),
                "--model-name",
                component,
                "--version",
                VERSION,
                "--serialized-file",
                str(staged),
                "--handler",
                str(service / f"{component}_handler.py"),
                "--config-file",
                str(cfg),
                "--export-path",
                str(out_dir),
                "--force",
            ],
            check=True,
            capture_output=True,
        )
    return out_dir / f"{component}.mar"


def build_mars(
    out_dir: str | Path,
    weights: dict[str, Path],
    *,
    presets: dict[str, str] | None = None,
    handler_options: dict | None = None,
    services: Path = SERVICES,
) -> list[Path]:
    """All three archives; weights[component] is the .safetensors file, presets[component] defaults to 'lite'."""
    presets = presets or {}
    return [
        build_mar(
            c, weights[c], out_dir, preset=presets.get(c, "lite"), handler_options=handler_options, services=services
        )
        for c in COMPONENTS
    ]


def parse_presets(text: str) -> dict[str, str]:
    """'lite' or 'stabilizer=lai2018,colorizer=deoldify-video' (unnamed components stay lite)."""
    if text == "lite":
        return {}
    presets = dict(item.split("=", 1) for item in text.split(",") if "=" in item)
    unknown = set(presets) - set(COMPONENTS)
    if unknown or not presets:
        raise WeightsError(f"--preset {text!r}: use lite or <component>=<preset>,… with {', '.join(COMPONENTS)}")
    return presets


def weights_file(name: str, store: Path | None) -> Path:
    """<store>/<name>.safetensors, or the file the weights search path finds (DEEPERFOUR_MODEL_STORE, the per-user
    store, the packaged defaults); a missing one is named by build_mar."""
    from deeperfour.models import store as stores

    found = stores.find(name, store)
    return found[0] if found else (store or settings.current().model_store) / f"{name}.safetensors"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.archive")
    parser.add_argument("--out", default="model_store")
    parser.add_argument("--preset", default="lite", help="lite, or <component>=<preset>,… e.g. stabilizer=lai2018")
    parser.add_argument(
        "--weights-dir", default=None, help="where <preset>.safetensors live (default: the weights search path)"
    )
    parser.add_argument("--services", type=Path, default=SERVICES, help="the repository's services/ folder")
    args = parser.parse_args(argv)
    settings.load()
    store = Path(args.weights_dir) if args.weights_dir else None
    try:
        presets = parse_presets(args.preset)
        weights = {c: weights_file(preset_name(c, presets.get(c, "lite")), store) for c in COMPONENTS}
        for mar in build_mars(args.out, weights, presets=presets, services=args.services):
            print(mar)
    except WeightsError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
