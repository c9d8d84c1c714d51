"""Settings from environment variables `DEEPERFOUR_<SECTION>_<KEY>`, each with a default."""

from __future__ import annotations

import os
from pathlib import Path

from deeperfour.errors import DeeperFourError

REPO_ROOT = Path(__file__).resolve().parents[2]


def env(section: str, key: str, default: str | None = None) -> str:
    """Read DEEPERFOUR_<SECTION>_<KEY>; a None default means the setting is required."""
    name = f"DEEPERFOUR_{section}_{key}".upper()
    value = os.environ.get(name, default)
    if value is None:
        raise DeeperFourError(f"{name} is not set; set it to run this service")
    return value


def env_int(section: str, key: str, default: int) -> int:
    raw = env(section, key, str(default))
    try:
        return int(raw)
    except ValueError:
        raise DeeperFourError(f"DEEPERFOUR_{section}_{key}".upper() + f"={raw!r} is not an integer") from None


def model_store() -> Path:
    """Where weights live: DEEPERFOUR_MODEL_STORE, else the repository's model_store/."""
    return Path(env("MODEL", "STORE", str(REPO_ROOT / "model_store")))
