"""Which ffmpeg runs, and whether it can do what DeeperFour asks of it.

DeeperFour runs the static ffmpeg of the imageio-ffmpeg wheel, a dependency, never whatever `ffmpeg` is first on
PATH; DEEPERFOUR_FFMPEG_BIN (or FFMPEG_BIN) names another one. Either is checked once per process: it must be an
ffmpeg of at least MIN_VERSION (that is when `-fps_mode`, which keeps every frame exactly once, appeared), and the
encoder a run needs must be in it. What is missing is said in one line.
"""

from __future__ import annotations

import logging
import re
import shutil
import subprocess
import threading
from dataclasses import dataclass

from deeperfour import settings
from deeperfour.errors import DeeperFourError

MIN_VERSION = (5, 1)
log = logging.getLogger(__name__)


class FfmpegError(DeeperFourError):
    """The ffmpeg to run is missing, is not ffmpeg, or lacks something a run needs."""


@dataclass(frozen=True)
class Ffmpeg:
    path: str
    version: tuple[int, int] | None  # None: a build whose version string has no release number (a git snapshot)
    version_text: str
    encoders: frozenset[str]
    bundled: bool

    def require_encoder(self, codec: str) -> None:
        if codec not in self.encoders:
            raise FfmpegError(
                f"the ffmpeg at {self.path} ({self.version_text}) has no {codec!r} encoder; {_advice(self)}"
            )


_checked: dict[str, Ffmpeg] = {}
_lock = threading.Lock()


def ffmpeg() -> Ffmpeg:
    """The ffmpeg this process runs, checked on first use."""
    configured = settings.current().ffmpeg_bin
    if configured:
        path = shutil.which(configured) or configured
        bundled = False
    else:
        import imageio_ffmpeg

        path, bundled = imageio_ffmpeg.get_ffmpeg_exe(), True
    with _lock:
        if path not in _checked:
            _checked[path] = inspect(path, bundled=bundled)
            log.info("ffmpeg: %s (%s)", path, _checked[path].version_text)
        return _checked[path]


def ffmpeg_exe() -> str:
    return ffmpeg().path


def inspect(path: str, *, bundled: bool = False) -> Ffmpeg:
    """Run `path -version` and `-encoders`; raise FfmpegError when it is not a usable ffmpeg."""
    source = "the bundled ffmpeg" if bundled else f"DEEPERFOUR_FFMPEG_BIN={path}"
    try:
        version = subprocess.run([path, "-hide_banner", "-version"], capture_output=True, text=True, timeout=60)
        encoders = subprocess.run([path, "-hide_banner", "-encoders"], capture_output=True, text=True, timeout=60)
    except FileNotFoundError:
        raise FfmpegError(f"{source}: no such program; unset DEEPERFOUR_FFMPEG_BIN to use the bundled one") from None
    except (PermissionError, OSError) as e:
        raise FfmpegError(f"{source}: cannot run it ({e.strerror or e})") from None
    except subprocess.TimeoutExpired:
        raise FfmpegError(f"{source}: did not answer `-version` within a minute") from None
    first = version.stdout.strip().splitlines()[0] if version.stdout.strip() else ""
    if version.returncode or not first.startswith("ffmpeg version"):
        raise FfmpegError(f"{source} is not ffmpeg (`-version` printed {first[:60]!r})")
    found = parse_version(first)
    text = first.split()[2] if len(first.split()) > 2 else "unknown version"
    info = Ffmpeg(path, found, f"version {text}", parse_encoders(encoders.stdout), bundled)
    if found is not None and found < MIN_VERSION:
        need = ".".join(map(str, MIN_VERSION))
        raise FfmpegError(
            f"the ffmpeg at {path} is version {text}; DeeperFour needs ffmpeg {need} or newer (for -fps_mode); "
            f"{_advice(info)}"
        )
    return info


def parse_version(first_line: str) -> tuple[int, int] | None:
    """'ffmpeg version 5.1.6-0+deb12u1 …' -> (5, 1); 'ffmpeg version n9.0.2-17-g…' -> (9, 0); 'N-1234-g…' -> None."""
    found = re.match(r"ffmpeg version n?(\d+)\.(\d+)", first_line)
    return (int(found.group(1)), int(found.group(2))) if found else None


def parse_encoders(text: str) -> frozenset[str]:
    """The names in `ffmpeg -encoders` output: the lines after the legend's '------' (' V....D libx264  …')."""
    _, _, listing = text.partition("------")
    names = set()
    for line in listing.splitlines():
        parts = line.split()
        if len(parts) >= 2 and re.fullmatch(r"[VAS][.A-Z]{5}", parts[0]):
            names.add(parts[1])
    return frozenset(names)


def _advice(info: Ffmpeg) -> str:
    if info.bundled:
        return "reinstall imageio-ffmpeg, or set DEEPERFOUR_FFMPEG_BIN to an ffmpeg that has it"
    return "unset DEEPERFOUR_FFMPEG_BIN to use the bundled ffmpeg (imageio-ffmpeg), or point it at a complete build"
