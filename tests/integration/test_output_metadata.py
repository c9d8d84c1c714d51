"""What a film archive expects of the output: the source's colour tags and aspect ratio, and a record of what made
it; and a clear line when the ffmpeg it is given cannot do the job."""

from __future__ import annotations

import subprocess
import sys
from fractions import Fraction

import av
import pytest

from deeperfour import __version__
from deeperfour.models.store import packaged_dir
from deeperfour.models.weights import sha256
from deeperfour.pipeline.embedded import modernize
from deeperfour.video.probe import probe
from tests.conftest import ffmpeg

FAST = dict(quiet=True, batch_size=4, chunk_frames=8)


def tagged_clip(path, *, sar="16/15", primaries="bt709", trc="bt709", matrix="bt709", rng="tv", seconds=0.6):
    tags = f"setparams=color_primaries={primaries}:color_trc={trc}:colorspace={matrix}:range={rng}"
    ffmpeg(
        *("-f", "lavfi", "-i", f"testsrc2=size=96x64:rate=25,hue=s=0,setsar={sar},{tags}", "-t", str(seconds)),
        *("-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", str(path)),
    )
    return path


def comment(path) -> str:
    with av.open(str(path)) as c:
        return c.metadata.get("comment", "")


@pytest.mark.parametrize(
    "tags",
    [
        dict(sar="16/15", primaries="bt709", trc="bt709", matrix="bt709", rng="tv"),
        dict(sar="4/3", primaries="bt470bg", trc="bt470bg", matrix="bt470bg", rng="pc"),
    ],
    ids=["hd-limited", "pal-full-range"],
)
def test_colour_tags_and_aspect_ratio_are_kept(tags, tmp_path):
    src = tagged_clip(tmp_path / "tagged.mp4", **tags)
    a = probe(src)
    assert (a.color_primaries, a.color_trc, a.colorspace, a.color_range) == (
        tags["primaries"],
        tags["trc"],
        tags["matrix"],
        tags["rng"],
    )
    out = tmp_path / "out.mkv"
    modernize(src, out, **FAST)
    b = probe(out)
    assert (b.color_primaries, b.color_trc, b.colorspace, b.color_range) == (
        a.color_primaries,
        a.color_trc,
        a.colorspace,
        a.color_range,
    )
    assert b.sample_aspect_ratio == a.sample_aspect_ratio == Fraction(tags["sar"])
    assert (b.width, b.height, b.frame_count) == (a.width, a.height, a.frame_count)


def test_an_untagged_source_stays_untagged(clip, tmp_path):
    src = clip("plain.mp4")
    out = tmp_path / "out.mp4"
    modernize(src, out, **FAST)
    b = probe(out)
    assert (b.color_primaries, b.color_trc, b.colorspace, b.color_range, b.sample_aspect_ratio) == (None,) * 5


def test_the_output_records_version_presets_and_weight_hashes(clip, tmp_path):
    src = clip("in.mp4")
    out = tmp_path / "out.mp4"
    modernize(src, out, **FAST)
    expected = (
        f"DeeperFour {__version__}; "
        f"colorize=colorizer-lite sha256:{sha256(packaged_dir() / 'colorizer-lite.safetensors')}; "
        f"stabilize=stabilizer-lite sha256:{sha256(packaged_dir() / 'stabilizer-lite.safetensors')}"
    )
    assert comment(out) == expected


def run_cli(*args, env=None):
    import os

    return subprocess.run(
        [sys.executable, "-m", "deeperfour", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **(env or {})},
    )


def test_verbose_says_which_ffmpeg_and_weights_run(clip, tmp_path):
    import imageio_ffmpeg

    r = run_cli("-v", "modernize", clip("in.mp4"), "-o", tmp_path / "out.mp4", "--quiet")
    assert r.returncode == 0, r.stderr
    assert f"deeperfour: ffmpeg: {imageio_ffmpeg.get_ffmpeg_exe()} (version" in r.stderr
    assert f"deeperfour: colorize: colorizer-lite, weights {packaged_dir() / 'colorizer-lite.safetensors'}" in r.stderr


@pytest.mark.parametrize(
    "env,args,words",
    [
        ({"DEEPERFOUR_FFMPEG_BIN": "/bin/echo"}, (), "deeperfour_ffmpeg_bin=/bin/echo is not ffmpeg"),
        ({"DEEPERFOUR_FFMPEG_BIN": "/nonexistent/ffmpeg"}, (), "no such program"),
        ({}, ("--codec", "libnothing"), "has no 'libnothing' encoder"),
    ],
    ids=["not-ffmpeg", "missing", "no-encoder"],
)
def test_an_ffmpeg_that_cannot_do_the_job_is_one_line(env, args, words, clip, tmp_path):
    src = clip("in.mp4")
    out_dir = tmp_path / "outdir"
    out_dir.mkdir()
    r = run_cli("modernize", src, "-o", out_dir / "out.mp4", *args, env=env)
    lines = r.stderr.strip().splitlines()
    assert r.returncode != 0 and len(lines) == 1 and "Traceback" not in r.stderr, r.stderr
    assert words in lines[0].lower()
    assert list(out_dir.iterdir()) == []
