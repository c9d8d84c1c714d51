"""`deeperfour weights import|list`: bring official checkpoints into the model store, and show what is installed.

The lead's cli.py calls add_weights_command(subparsers); errors are raised as DeeperFourError (one line).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from deeperfour import settings
from deeperfour.models import weights as W
from deeperfour.models.cartoongan import STYLES
from deeperfour.models.registry import PRESETS, STAGES

IMPORTABLE = [p.name for p in PRESETS.values() if p.exact] + [W.BACKBONE]


def add_weights_command(subparsers) -> None:
    p = subparsers.add_parser("weights", help="import official checkpoints, list installed weights")
    sub = p.add_subparsers(dest="weights_command", required=True)

    imp = sub.add_parser("import", help="check an official .pth checkpoint and convert it to safetensors")
    imp.add_argument(
        "file",
        help="the checkpoint: .pth/.pt, read with torch.load(weights_only=True); .tflite for mobilenet_v2-imagenet",
    )
    imp.add_argument(
        "--model",
        required=True,
        help=f"{'|'.join(IMPORTABLE)}; CartoonGAN needs its style: cartoongan:{'|'.join(STYLES)}",
    )
    imp.add_argument("--store", default=None, help="model store (default: DEEPERFOUR_MODEL_STORE or model_store/)")
    imp.set_defaults(func=run_import)

    ls = sub.add_parser("list", help="installed weights, and what each stage uses by default")
    ls.add_argument("--store", default=None, help="model store folder")
    ls.set_defaults(func=run_list)


def run_import(args: argparse.Namespace) -> int:
    target, _, n = W.import_checkpoint(args.file, args.model, args.store)
    print(f"checked {n} tensors against {args.model}: none missing, unexpected or of the wrong shape")
    print(f"wrote {target}")
    return 0


def run_list(args: argparse.Namespace) -> int:
    store = Path(args.store) if args.store else settings.current().model_store
    rows = W.installed(store)
    print(f"model store: {store}")
    if not rows:
        print("  (nothing installed)")
    for name, path, meta in rows:
        src = meta.get("source", "trained by the project" if "source_sha256" not in meta else "")
        sha = meta.get("source_sha256", "")[:12]
        print(f"  {name:<22} {path.stat().st_size / 1e6:8.1f} MB  {src}{f' (sha256 {sha}…)' if sha else ''}")
    print("what each preset loads (each stage uses its lite preset unless another is chosen):")
    for stage, noun in STAGES.items():
        for preset in (p for p in PRESETS.values() if p.stage == stage):
            default = " (default)" if preset.name == f"{noun}-lite" else ""
            for style in STYLES if preset.name == "cartoongan" else (None,):
                path = W.resolve_weights(preset, None, style=style, store=store)
                state = path.name if path else "not installed"
                label = f"{preset.name}:{style}" if style else preset.name
                print(f"  {stage:<10} {label:<20} {state}{default}")
    return 0
