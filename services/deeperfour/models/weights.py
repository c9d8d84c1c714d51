"""Weights on disk: safetensors found along the store search path (models/store.py), and the one-time import of
official checkpoints.

Official .pth files are read once with torch.load(weights_only=True) (no code runs), checked key by key and
shape by shape against the preset's model, and written as <store>/<preset>.safetensors
(cartoongan-<style>.safetensors) with metadata: the source's sha256 and path (or URL), and the preset.
"""

from __future__ import annotations

import hashlib
import logging
import os
import pickle
import re
import tempfile
import threading
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from deeperfour import __version__, settings
from deeperfour.errors import WeightsError
from deeperfour.models import store as stores
from deeperfour.models.catalog import BACKBONE, SOURCES, STYLES, store_name
from deeperfour.models.registry import PRESETS, Preset, build_model, fold_spectral_norm, get_preset

log = logging.getLogger(__name__)


def installed_name(preset: Preset, style: str | None = None) -> str:
    """The store name of a preset's weights (catalog.store_name): the style counts for cartoongan only."""
    return store_name(preset.name, style)


def resolve_weights(
    preset: Preset, weights: str | os.PathLike | None, *, style: str | None = None, store: Path | None = None
) -> Path | None:
    """The file to load: an explicit .safetensors path, an installed name, or the preset's default (None if absent).
    Names are looked up along the search path (DEEPERFOUR_MODEL_STORE, per-user store, packaged), or in `store`."""
    weights = os.fspath(weights) if weights is not None else None
    if weights is None:
        found = stores.find(installed_name(preset, style), Path(store) if store else None)
        return found[0] if found else None
    if weights.endswith((".pth", ".pt", ".pkl")):
        raise WeightsError(
            f"{weights} is a PyTorch checkpoint: import it first (deeperfour weights import {weights} --model …)"
        )
    if weights.endswith(".safetensors") or os.sep in weights:
        path = Path(weights)
        if not path.is_file():
            raise WeightsError(f"weights {weights!r} not found (no file {path}); see `deeperfour weights list`")
        return path
    found = stores.find(weights, Path(store) if store else None)
    if found is None:
        where = ", ".join(str(p.path) for p in stores.search_path()) if store is None else str(store)
        raise WeightsError(f"weights {weights!r} not found (looked in {where}); see `deeperfour weights list`")
    return found[0]


def load_into(model: nn.Module, path: Path, preset: Preset) -> None:
    """Load a safetensors file into the model, strictly; any mismatch is one WeightsError line."""
    try:
        sd = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as e:
        raise WeightsError(f"cannot read weights {path}: {e}") from None
    problems = compare(sd, model.state_dict())
    if problems:
        raise WeightsError(f"{path} does not fit {preset.name}: {problems.summary()}")
    model.load_state_dict(sd, strict=True)


def load_model(
    stage: str,
    preset: str = "lite",
    weights: str | None = None,
    *,
    style: str | None = None,
    device: str = "cpu",
    allow_random: bool = False,
) -> tuple[nn.Module, Preset]:
    """Build the preset's model and load its weights.

    weights: None -> the installed default (<store>/<preset>.safetensors, cartoongan-<style> for cartoongan); a
    name installed in the store; or a path to a .safetensors file. With nothing installed, allow_random=True gives
    the seeded random init (the caller warns), else WeightsError.
    """
    p = get_preset(stage, preset)
    model = build_model(p)
    path = resolve_weights(p, weights, style=style)
    if path is None:
        if not allow_random:
            raise WeightsError(missing_message(installed_name(p, style)))
    else:
        load_into(model, path, p)
    log.info("%s: %s, weights %s", stage, p.name, path or "seeded random init")
    model.weights_path = path  # what the output's provenance tag names (None: the seeded random init)
    fold_spectral_norm(model)
    return model.to(device, memory_format=torch.channels_last).eval(), p


def missing_message(name: str) -> str:
    model = name.replace("cartoongan-", "cartoongan:")
    if model in SOURCES:
        return (
            f"no weights for {name}: download them (deeperfour weights download {model}) "
            f"or import them (deeperfour weights import FILE --model {model})"
        )
    if model in PRESETS and PRESETS[model].exact:
        return (
            f"no weights for {name}: import the published checkpoint (deeperfour weights import FILE --model {model})"
        )
    return f"no weights for {name}: train them (deeperfour train …) or import them (deeperfour weights import …)"


_hashes: dict[tuple[str, int, int], str] = {}
_hash_lock = threading.Lock()


def file_sha256(path: Path) -> str:
    """sha256 of a weights file, computed once per process and file version."""
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    with _hash_lock:
        if key not in _hashes:
            _hashes[key] = sha256(path)
        return _hashes[key]


def made_with(stages) -> str:
    """The output's provenance tag: DeeperFour's version, then each stage's preset and the sha256 of its weights."""
    parts = []
    for s in stages:
        path = getattr(s.model, "weights_path", None)
        digest = f"sha256:{file_sha256(path)}" if path else "random-init"
        parts.append(f"{s.name}={s.preset.name} {digest}")
    return f"DeeperFour {__version__}; " + "; ".join(parts)


@dataclass
class KeyReport:
    missing: list[str]
    unexpected: list[str]
    mismatched: list[str]  # "key: got (..), expected (..)"

    def __bool__(self) -> bool:
        return bool(self.missing or self.unexpected or self.mismatched)

    def summary(self) -> str:
        parts = []
        kinds = (("missing", self.missing), ("unexpected", self.unexpected), ("wrong shape", self.mismatched))
        for what, keys in kinds:
            if keys:
                parts.append(f"{len(keys)} {what} (e.g. {keys[0]})")
        return ", ".join(parts)


def compare(sd: dict, expected: dict) -> KeyReport:
    shape = lambda t: tuple(t.shape)
    return KeyReport(
        missing=[k for k in expected if k not in sd],
        unexpected=[k for k in sd if k not in expected],
        mismatched=[
            f"{k}: got {shape(sd[k])}, expected {shape(expected[k])}"
            for k in expected
            if k in sd and shape(sd[k]) != shape(expected[k])
        ],
    )


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def read_checkpoint(path: Path) -> dict[str, torch.Tensor]:
    """A state_dict from a checkpoint: bare, {'model': sd}, fastai's {'model', 'opt'} or {'state_dict': sd}."""
    if not path.is_file():
        raise WeightsError(f"checkpoint {path} not found")
    try:
        with warnings.catch_warnings():  # the weights-only unpickler warns about pickle protocols
            warnings.simplefilter("ignore", UserWarning)
            obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        if "unsupported" in str(e).lower():  # a global or an opcode outside the weights-only allowlist
            found = re.search(r"GLOBAL ([\w.]+)", str(e))
            what = f"would call {found.group(1)}" if found else "holds objects other than tensors"
            raise WeightsError(f"refused {path}: its pickle {what}; only plain tensors are accepted") from None
        raise WeightsError(f"cannot read {path}: truncated or corrupt pickle") from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, ValueError, OSError) as e:
        raise WeightsError(f"cannot read {path}: truncated or corrupt ({_first_line(e)})") from None
    if isinstance(obj, dict) and not _is_state_dict(obj):
        for key in ("model", "state_dict"):
            if isinstance(obj.get(key), dict):
                obj = obj[key]
                break
    if not isinstance(obj, dict) or not _is_state_dict(obj):
        raise WeightsError(f"{path} holds no state_dict (expected tensors, or a dict with 'model')")
    if all(k.startswith("module.") for k in obj):  # saved from DataParallel
        obj = {k[len("module.") :]: v for k, v in obj.items()}
    return obj


def _is_state_dict(obj: dict) -> bool:
    return bool(obj) and all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in obj.items())


def _first_line(e: BaseException) -> str:
    """The first sentence of an exception's message (torch's are paragraphs)."""
    text = str(e).strip().splitlines()
    return text[0].split(". ")[0].rstrip(".") if text and text[0] else type(e).__name__


def fill_untracked_buffers(sd: dict[str, torch.Tensor], expected: dict[str, torch.Tensor]) -> list[str]:
    """Add the BatchNorm `num_batches_tracked` counters that checkpoints saved before PyTorch 0.4.1 lack (Lai et al.'s
    was saved with 0.4.0), as torch's own loader does for old state_dicts: a counter at 0, which inference never
    reads. Only these counters are filled, and only where the module's running statistics are present; returns the
    keys filled."""
    filled = []
    for key, like in expected.items():
        prefix = key[: -len("num_batches_tracked")]
        if key.endswith("num_batches_tracked") and key not in sd and f"{prefix}running_mean" in sd:
            sd[key] = torch.zeros_like(like)
            filled.append(key)
    return filled


def import_checkpoint(
    source: str | Path, model: str, store: str | Path | None = None, *, provenance: dict[str, str] | None = None
) -> tuple[Path, KeyReport, int]:
    """Check and convert an official checkpoint; model is a preset name, 'cartoongan:STYLE', or
    'mobilenet_v2-imagenet' (a TensorFlow Lite MobileNetV2 1.0, dequantized).

    Returns (written path, report, number of tensors). Any mismatch raises WeightsError; the store only
    ever sees a complete file (temp name + rename). `provenance` (e.g. the URL it was downloaded from) goes into the
    file's metadata beside the source's sha256.
    """
    source = Path(source)
    if model == BACKBONE:
        sd, expected, meta = _read_backbone(source), None, {"preset": BACKBONE, "style": ""}
        target_name = BACKBONE
    else:
        name, _, style = model.partition(":")
        preset = PRESETS.get(name)
        if preset is None or not preset.exact:
            valid = [p.name for p in PRESETS.values() if p.exact]
            raise WeightsError(
                f"cannot import into {model!r}; valid: {', '.join(valid)}, {BACKBONE} (cartoongan:STYLE)"
            )
        if style and preset.name != "cartoongan":
            raise WeightsError(f"{preset.name} has no styles; use --model {preset.name}")
        if preset.name == "cartoongan" and not style:
            raise WeightsError(f"say which CartoonGAN style this is: --model cartoongan:{'|'.join(STYLES)}")
        target_name = installed_name(preset, style or None)
        sd, expected = read_checkpoint(source), build_model(preset).state_dict()
        meta = {"preset": preset.name, "style": style.lower()}
        filled = fill_untracked_buffers(sd, expected)
        if filled:
            meta["filled"] = f"{len(filled)} num_batches_tracked counters (a checkpoint from PyTorch < 0.4.1)"
    report = compare(sd, expected) if expected is not None else KeyReport([], [], [])
    if report:
        raise WeightsError(f"{source} is not a {target_name} checkpoint: {report.summary()}")
    tensors = {k: _to_store_dtype(v, expected[k]) if expected else v.contiguous() for k, v in sd.items()}

    store = Path(store) if store else settings.current().model_store
    try:
        store.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise WeightsError(f"cannot create the model store {store}: {e.strerror}") from None
    target = store / f"{target_name}.safetensors"
    meta.update(source=str(source.resolve()), source_sha256=sha256(source))
    meta.update(provenance or {})
    fd, tmp = tempfile.mkstemp(prefix=f".{target_name}.", suffix=".tmp", dir=store)
    os.close(fd)
    try:
        save_file(tensors, tmp, metadata=meta)
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return target, report, len(tensors)


def _read_backbone(source: Path) -> dict[str, torch.Tensor]:
    from deeperfour.models.mobilenet import read_tflite

    if not source.is_file():
        raise WeightsError(f"{source} not found")
    try:
        return read_tflite(source)
    except ImportError as e:
        raise WeightsError(str(e)) from None
    except ValueError as e:
        raise WeightsError(f"{source} is not a MobileNetV2 1.0 TensorFlow Lite model: {e}") from None


def _to_store_dtype(t: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """Half-precision checkpoints become float32; int buffers (num_batches_tracked) keep their dtype."""
    return t.detach().to(like.dtype).contiguous().clone()


def installed(store: str | Path | None = None) -> list[tuple[str, Path, dict]]:
    """(name, path, metadata) of every .safetensors in the store."""
    return stores.installed(Path(store) if store else settings.current().model_store)
