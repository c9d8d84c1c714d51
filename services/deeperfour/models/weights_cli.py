"""`deeperfour weights import|download|list`: bring published checkpoints into the model store, show what each stage
uses. Importing this module is cheap (no torch): the commands load what they need when they run."""

from __future__ import annotations

import argparse
from pathlib import Path

from deeperfour import settings
from deeperfour.models import catalog
from deeperfour.models import store as stores

IMPORTABLE = [*catalog.EXACT, catalog.BACKBONE]
DOWNLOADABLE = "deoldify-artistic, deoldify-stable, deoldify-video or cartoongan:STYLE"


def add_weights_command(subparsers) -> None:
    p = subparsers.add_parser(
        "weights",
        help="download or import published checkpoints, list what each stage uses",
        description="Weights are looked up in DEEPERFOUR_MODEL_STORE, then the per-user store, then the defaults "
        "packaged with DeeperFour. Import and download write to DEEPERFOUR_MODEL_STORE when it is set, else to the "
        "per-user store.",
    )
    sub = p.add_subparsers(dest="weights_command", required=True, metavar="{import,download,list}")
    imp = sub.add_parser("import", help="check an official .pth checkpoint and convert it to safetensors")
    imp.add_argument(
        "file",
        help="the checkpoint: .pth/.pt, read with torch.load(weights_only=True); .tflite for mobilenet_v2-imagenet",
    )
    imp.add_argument(
        "--model",
        required=True,
        help=f"{'|'.join(IMPORTABLE)}; CartoonGAN needs its style: cartoongan:{'|'.join(catalog.STYLES)}",
    )
    imp.add_argument("--store", default=None, help="write here (default: the writable store, see above)")
    imp.set_defaults(func=run_import)

    dl = sub.add_parser(
        "download",
        help="download a published checkpoint, check its size and sha256, and import it",
        description="Fetches the original file from its published address (or --url), resumes an interrupted "
        "download, refuses a file whose size or sha256 differs from the published one, and records where it came "
        "from in the imported weights. Nothing is downloaded by any other command.",
    )
    dl.add_argument("model", metavar="MODEL", help=f"{DOWNLOADABLE} (STYLE: {', '.join(catalog.STYLES)})")
    dl.add_argument("--url", action="append", help="your own mirror of the same file (repeat to try several)")
    dl.add_argument("--store", default=None, help="write here (default: the writable store, see above)")
    dl.add_argument("--keep", action="store_true", help="keep the downloaded .pth beside the converted weights")
    dl.add_argument("--quiet", action="store_true", help="no progress bar")
    dl.set_defaults(func=run_download)

    ls = sub.add_parser("list", help="the store search path, installed weights, and what each stage uses")
    ls.add_argument("--store", default=None, help="list only this folder")
    ls.set_defaults(func=run_list)


def run_import(args: argparse.Namespace) -> int:
    from deeperfour.models import weights as W

    target, _, n = W.import_checkpoint(args.file, args.model, args.store)
    print(f"checked {n} tensors against {args.model}: none missing, unexpected or of the wrong shape")
    filled = stores.metadata(target).get("filled")
    if filled:
        print(f"filled {filled}")
    print(f"wrote {target}")
    return 0


def run_download(args: argparse.Namespace) -> int:
    from deeperfour.models.download import download, source_for

    source = source_for(args.model)
    store = Path(args.store) if args.store else settings.current().model_store
    target = download(source, store, urls=args.url, quiet=args.quiet, keep=args.keep)
    meta = stores.metadata(target)
    print(f"downloaded {meta.get('source')} (sha256 {meta.get('source_sha256', '')[:16]}…, {meta.get('sha256_check')})")
    print(f"wrote {target}")
    return 0


def _describe(meta: dict[str, str]) -> str:
    if "error" in meta:
        return "unreadable"
    if "source_sha256" not in meta:
        return "trained by the project"
    return f"from {meta.get('source', '?')} (sha256 {meta['source_sha256'][:12]}…)"


def run_list(args: argparse.Namespace) -> int:
    only = Path(args.store) if args.store else None
    places = [stores.Place("--store", only)] if only else stores.search_path()
    print("search path (the first folder holding a file wins):")
    for k, place in enumerate(places, 1):
        print(f"  {k}. {place.label:<22} {place.path}{'' if place.path.is_dir() else '  (absent)'}")
    print("installed:")
    rows = [(place, row) for place in places for row in stores.installed(place.path)]
    if not rows:
        print("  (nothing)")
    for place, (name, path, meta) in rows:
        card = path.with_suffix(".md")
        about = _describe(meta) + (f"; model card {card}" if card.is_file() else "")
        print(f"  {name:<22} {path.stat().st_size / 1e6:8.1f} MB  {place.label:<22} {about}")
    print("what each stage uses (--preset STAGE=PRESET; lite is the default):")
    for stage, names in catalog.PRESETS.items():
        for preset in names:
            for style in catalog.STYLES if preset == "cartoongan" else (None,):
                label = f"{preset}:{style}" if style else preset
                found = stores.find(catalog.store_name(preset, style), only)
                if found:
                    state = f"{found[0]}  ({found[1]})"
                elif label in catalog.SOURCES:
                    state = f"not installed: deeperfour weights download {label}"
                elif preset in catalog.EXACT:
                    state = f"not installed: deeperfour weights import FILE --model {label}"
                else:
                    state = "not installed"
                default = " (default)" if preset == names[0] else ""
                print(f"  {stage:<10} {label:<20} {state}{default}")
    return 0
