"""Pack the training data for the device machine: `python tools/gpu_data.py --data ../shared/data --out .gpu-data`.

The device machine gets the working tree only (64 MiB in all, no ../shared, no ffmpeg), so this writes a smaller
copy of what the trainers read into an ignored folder of the repository, which `make train-gpu` then reads:
- train/photos/<source>/<name>: every photo (the validation split keeps its files, names and order), 144 px on the
  short side, JPEG quality 75;
- train/video/davis2016/<clip>/<frame>.jpg: every frame of every clip at 256x144, JPEG quality 75 (a folder of
  frames needs no video decoder);
- train/backbones/mobilenet_v2_imagenet: the ImageNet MobileNetV2 as it is;
- cartoon_style/: the cartoonizer's style images, 256 px on the short side.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

import cv2

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "services"))

from deeperfour.train.data import IMAGE_EXT, load_clip, resize_short

QUALITY = [cv2.IMWRITE_JPEG_QUALITY, 75]


def write_image(rgb, path: Path, short: int) -> None:
    """JPEG bytes under the original name (every source file is a .jpg), so names, order and split stay the same."""
    path.parent.mkdir(parents=True, exist_ok=True)
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(resize_short(rgb, short), cv2.COLOR_RGB2BGR), QUALITY)
    path.write_bytes(buf.tobytes())


def pack(data: Path, out: Path) -> int:
    if out.exists():
        shutil.rmtree(out)
    for folder in sorted((data / "train" / "photos").iterdir()):
        for p in sorted(folder.iterdir()):
            bgr = cv2.imread(str(p))
            if bgr is not None:
                write_image(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), out / p.relative_to(data), 144)
    for clip in sorted((data / "train" / "video" / "davis2016").glob("*.mp4")):
        for t, frame in enumerate(load_clip(clip, 144)):
            write_image(frame, out / "train" / "video" / "davis2016" / clip.stem / f"{t:05d}.jpg", 144)
    shutil.copytree(data / "train" / "backbones", out / "train" / "backbones")
    for p in sorted((data / "cartoon_style").rglob("*")):
        bgr = cv2.imread(str(p)) if p.suffix.lower() in IMAGE_EXT else None
        if bgr is not None:
            write_image(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), out / p.relative_to(data), 256)
    return sum(f.stat().st_size for f in out.rglob("*") if f.is_file())


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default="../shared/data")
    p.add_argument("--out", default=".gpu-data")
    args = p.parse_args()
    size = pack(Path(args.data), Path(args.out))
    print(f"wrote {args.out}: {size / 2**20:.1f} MiB (the working tree and this must stay under 64 MiB together)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
