"""Variable frame rate: picture and sound stay in sync. The clip runs at 30 fps for 2 s, then at 10 fps for 2 s; a
white flash and a beep start together at 0.5, 1.5, 2.5 and 3.5 s. The offset between each flash and its beep is
measured on the output (before the fix the picture was re-timed to 20 fps and drifted up to 0.75 s)."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from deeperfour.pipeline.embedded import modernize
from deeperfour.video.probe import probe
from tests.conftest import ffmpeg

EVENTS = [0.5, 1.5, 2.5, 3.5]


def vfr_clip(path: Path) -> Path:
    flash = "drawbox=x=0:y=0:w=iw:h=ih:color=white:t=fill:enable='between(mod(t,1),0.499,0.6)'"
    beep = "aevalsrc=0.8*sin(2*PI*880*t)*between(mod(t\\,1)\\,0.5\\,0.6):s=48000:d=4"
    ffmpeg(
        *("-f", "lavfi", "-i", "color=c=0x404040:s=64x48:r=30:d=2"),
        *("-f", "lavfi", "-i", "color=c=0x404040:s=64x48:r=10:d=2"),
        *("-f", "lavfi", "-i", beep),
        *("-filter_complex", f"[0:v][1:v]concat=n=2:v=1:a=0,{flash}[v]", "-map", "[v]", "-map", "2:a"),
        *("-fps_mode", "vfr", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac"),
        str(path),
    )
    return path


def flashes(path: Path) -> list[float]:
    """Times at which the picture turns white."""
    with av.open(str(path)) as c:
        shown = [(f.time, f.to_ndarray(format="gray").mean() > 200) for f in c.decode(video=0)]
    return [t for k, (t, white) in enumerate(shown) if white and (k == 0 or not shown[k - 1][1])]


def beeps(path: Path) -> list[float]:
    """Times at which the sound starts a beep."""
    with av.open(str(path)) as c:
        rate = c.streams.audio[0].sample_rate
        frames = [(f.time, f.to_ndarray()[0]) for f in c.decode(audio=0)]
    samples = np.concatenate([s for _, s in frames])
    loud = np.abs(samples) > 0.2
    starts = frames[0][0] + np.flatnonzero(loud[1:] & ~loud[:-1]) / rate
    return [float(t) for k, t in enumerate(starts) if k == 0 or t - starts[k - 1] > 0.3]


def offsets(path: Path) -> list[float]:
    f, b = flashes(path), beeps(path)
    assert len(f) == len(b) == len(EVENTS), (f, b)
    return [x - y for x, y in zip(f, b, strict=True)]


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    src = vfr_clip(tmp_path_factory.mktemp("vfr") / "vfr.mp4")
    assert probe(src).frame_count == 80
    assert max(abs(o) for o in offsets(src)) < 0.005
    return src


@pytest.mark.parametrize("ext", ["mp4", "mkv", "mov"])
def test_every_frame_keeps_its_timestamp(clip, ext, tmp_path):
    out = tmp_path / f"out.{ext}"
    modernize(clip, out, quiet=True, allow_random=True, encoder_preset="ultrafast")
    assert probe(out).frame_count == 80
    assert max(abs(o) for o in offsets(out)) < 0.005, offsets(out)
    assert [round(t, 3) for t in flashes(out)] == EVENTS


def test_avi_is_resampled_to_a_constant_rate_and_says_so(clip, tmp_path):
    out = tmp_path / "out.avi"
    summary = modernize(clip, out, quiet=True, allow_random=True, encoder_preset="ultrafast")
    assert any("resampled to a constant 30.000 fps" in n for n in summary["notes"]), summary["notes"]
    assert probe(out).frame_count == 120  # 4 s at 30 fps: the 10 fps frames each shown three times
    # AVI keeps no edit list: the AAC priming shifts the whole film by under two frames, the same at every point
    found = offsets(out)
    assert max(abs(o) for o in found) < 0.06 and max(found) - min(found) < 0.005, found
