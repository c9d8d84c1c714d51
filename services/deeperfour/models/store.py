"""Where weights are found, torch-free: DEEPERFOUR_MODEL_STORE, then the per-user store (platformdirs), then the
defaults packaged with DeeperFour (deeperfour/model_store in the wheel; in a checkout, a link to the repository's
model_store/). The first folder holding `<name>.safetensors` wins.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from deeperfour import settings

PACKAGED = "packaged"
USER = "user store"
ENV = "DEEPERFOUR_MODEL_STORE"


@dataclass(frozen=True)
class Place:
    label: str  # ENV, USER or PACKAGED
    path: Path


def packaged_dir() -> Path | None:
    """The packaged default weights and model cards (importlib.resources), or None when they are not installed."""
    folder = resources.files("deeperfour") / "model_store"
    return Path(str(folder)) if folder.is_dir() else None


def search_path() -> list[Place]:
    """The folders searched for weights, in order (the per-user store only once when DEEPERFOUR_MODEL_STORE is
    unset, since it is then also the writable store)."""
    config = settings.current()
    places = [Place(ENV, config.model_store)] if config.model_store_is_set else []
    places.append(Place(USER, config.user_store))
    packaged = packaged_dir()
    if packaged is not None:
        places.append(Place(PACKAGED, packaged))
    return places


def find(name: str, store: Path | None = None) -> tuple[Path, str] | None:
    """(file, label of its folder) of `<name>.safetensors`; with `store`, only that folder is searched."""
    places = [Place("--store", Path(store))] if store is not None else search_path()
    for place in places:
        path = place.path / f"{name}.safetensors"
        if _is_file(path):
            return path, place.label
    return None


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except OSError:  # a folder this user may not read counts as holding nothing
        return False


def metadata(path: Path) -> dict[str, str]:
    """The `__metadata__` of a safetensors file, read from its JSON header (no tensor is loaded, no torch needed)."""
    try:
        with open(path, "rb") as f:
            (size,) = struct.unpack("<Q", f.read(8))
            if size > 100 << 20:
                raise ValueError("header too large")
            header = json.loads(f.read(size))
    except (OSError, ValueError, struct.error):
        return {"error": "unreadable"}
    meta = header.get("__metadata__") if isinstance(header, dict) else None
    return dict(meta) if isinstance(meta, dict) else {}


def installed(folder: Path) -> list[tuple[str, Path, dict[str, str]]]:
    """(name, path, metadata) of every .safetensors in a folder."""
    if not folder.is_dir():
        return []
    return [(p.stem, p, metadata(p)) for p in sorted(folder.glob("*.safetensors"))]
