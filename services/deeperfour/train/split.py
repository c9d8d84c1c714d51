"""The validation split of ../shared/data/train: never trained on, every quality figure is measured on it.

- photos: in each source folder, every tenth file in name order (the 1st, 11th, 21st, ...), so every source and
  every kind of scene is represented;
- clips: six whole DAVIS-2016 sequences of different kinds (animal in nature, car on a road, dancer indoors, birds
  on water, beach and sky, sport).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

PHOTO_SOURCES = ("imagenet_samples", "bsds500", "pixabay_portraits", "sun_urban_set", "camvid", "clothing_cc0")
VALIDATION_CLIPS = ("bear.mp4", "car-turn.mp4", "dance-twirl.mp4", "flamingo.mp4", "kite-walk.mp4", "tennis.mp4")
PHOTO_EXT = {".jpg", ".jpeg", ".png", ".webp"}
EVERY = 10


def photos(root, source: str, part: str) -> list[Path]:
    """The 'train' or 'validation' photos of one source folder (train/photos/<source>)."""
    files = _sorted_photos(Path(root) / "train" / "photos" / source)
    return [p for i, p in enumerate(files) if (i % EVERY == 0) == (part == "validation")]


@lru_cache(maxsize=16)
def _sorted_photos(folder: Path) -> tuple[Path, ...]:
    return tuple(sorted(p for p in folder.glob("*") if p.suffix.lower() in PHOTO_EXT))


def clips(root, part: str) -> list[Path]:
    """The 'train' or 'validation' DAVIS clips (train/video/davis2016: .mp4 files, or folders of frames)."""
    files = sorted((Path(root) / "train" / "video" / "davis2016").glob("*"))
    return [p for p in files if (f"{p.stem}.mp4" in VALIDATION_CLIPS) == (part == "validation")]


def is_validation(path) -> bool:
    """Whether a file of ../shared/data/train belongs to the validation split (files elsewhere never do)."""
    path = Path(path)
    if path.parent.name == "davis2016":  # a clip file, or a folder of its frames
        return f"{path.stem}.mp4" in VALIDATION_CLIPS
    if path.parent.parent.name == "photos" and path.parent.name in PHOTO_SOURCES:
        files = _sorted_photos(path.parent)
        return path in files and files.index(path) % EVERY == 0
    return False
