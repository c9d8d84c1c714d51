"""`make demo`: modernize a real old film (or a generated one) and say where the result is."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from deeperfour import settings
from deeperfour.errors import DeeperFourError

FILM = "bw_film/muybridge_buffalo_running_1883.mp4"  # Muybridge, 1883: public domain, with a soundtrack


def generated_film(path: Path) -> Path:
    """A grey 5 s clip with two shots and a tone, for machines without the shared data."""
    from deeperfour.video.io import ffmpeg_exe

    subprocess.run(
        [
            ffmpeg_exe(),
            "-nostdin",
            "-v",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-t",
            "2.5",
            "-i",
            "testsrc2=size=320x240:rate=24",
            "-f",
            "lavfi",
            "-t",
            "2.5",
            "-i",
            "mandelbrot=size=320x240:rate=24",
            "-f",
            "lavfi",
            "-t",
            "5",
            "-i",
            "sine=frequency=440",
            "-filter_complex",
            "[0:v][1:v]concat=n=2:v=1:a=0,hue=s=0[v]",
            "-map",
            "[v]",
            "-map",
            "2:a",
            "-c:v",
            "libx264",
            "-pix_fmt",
            "yuv420p",
            "-c:a",
            "aac",
            str(path),
        ],
        check=True,
    )
    return path


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data", type=Path, default=settings.load().data_root, help="the shared data folder")
    ap.add_argument("--out", type=Path, default=Path("out"))
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    film = args.data / FILM
    if not film.exists():
        print(f"{film} not found: using a generated clip instead")
        film = generated_film(args.out / "generated_bw.mp4")
    result = args.out / f"{film.stem}_modernized.mp4"
    from deeperfour.cli import main as cli

    code = cli(["modernize", str(film), "-o", str(result)])
    if code == 0:
        compare = f"deeperfour compare {film} {result} -o {args.out / 'compare.mp4'}"
        print(f"\nDone: {result}\nCompare with the original: {compare}")
    return code


if __name__ == "__main__":
    try:
        sys.exit(main())
    except DeeperFourError as e:
        print(f"deeperfour demo: {e}", file=sys.stderr)
        sys.exit(2)
