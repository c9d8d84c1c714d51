"""Excerpts (their frames exactly, their sound cut to match), the shot report, and `deeperfour preview`."""

from __future__ import annotations

import json
import subprocess
import sys

import av
import numpy as np
import pytest

from deeperfour.errors import InputError
from deeperfour.pipeline.embedded import modernize
from deeperfour.video.probe import probe
from tests.conftest import make_clip
from tests.integration.conftest import frames

LOSSLESS = dict(codec="ffv1", pix_fmt="gbrp", quiet=True)


def audio_seconds(path) -> float:
    with av.open(str(path)) as c:
        stream = c.streams.audio[0]
        packets = [p for p in c.demux(stream) if p.size and p.pts is not None]
        first = min(p.pts for p in packets)
        end = max(p.pts + p.duration for p in packets)
        return float((end - first) * stream.time_base)


@pytest.fixture(scope="module")
def film(tmp_path_factory):
    """3 shots of 1 s at 25 fps with sound (x264 with B-frames: decoding starts at key frames), and its colorized
    frames, losslessly."""
    d = tmp_path_factory.mktemp("excerpt")
    src = make_clip(d / "in.mp4", shots=3, shot_seconds=1.0, extra=["-bf", "3", "-g", "30"])
    whole = d / "whole.mkv"
    modernize(src, whole, stages="colorize", **LOSSLESS)
    return src, frames(whole)


@pytest.mark.parametrize(
    "span,first,count,seconds,ext",
    [
        (dict(start="1.02", duration="1.2"), 26, 30, 1.2, ".mkv"),  # 1.02 s: the frame at 1.04 s is the first
        (dict(start="0:01.5", frames=10), 38, 10, 0.4, ".mkv"),
        (dict(duration=0.5), 0, 13, 0.52, ".mkv"),  # the frames that start within the first half second
        (dict(start="2", duration="0.5"), 50, 13, 0.52, ".mp4"),  # x264 and AAC in MP4
    ],
)
def test_an_excerpt_has_its_frames_and_its_sound(span, first, count, seconds, ext, film, tmp_path):
    src, whole = film
    out = tmp_path / f"part{ext}"
    encoding = LOSSLESS if ext == ".mkv" else dict(quiet=True)
    summary = modernize(src, out, stages="colorize", **span, **encoding)
    got = frames(out)
    assert len(got) == count == probe(out).frame_count == summary["frames"]
    if ext == ".mkv":
        np.testing.assert_array_equal(got, whole[first : first + count])  # exactly those frames of the film
    else:
        assert np.abs(got.astype(int) - whole[first : first + count]).mean() < 3
    assert summary["excerpt"]["first_frame"] == first
    assert abs(audio_seconds(out) - seconds) < 0.05  # AAC packets are 21 ms
    assert abs(probe(out).duration - seconds) < 0.05


def test_bad_excerpts_are_one_line(film, tmp_path):
    src, _ = film
    for span, words in [
        (dict(start="5"), "past the last frame"),
        (dict(start="1", duration="1", frames=3), "give one of them"),
        (dict(start="1:75"), "below 60"),
        (dict(start="soon"), "not a time"),
        (dict(duration="0.01", start="1.01"), "no frame starts within it"),
    ]:
        with pytest.raises(InputError, match=words):
            modernize(src, tmp_path / "x.mp4", **span, quiet=True)
    assert not list(tmp_path.iterdir())


def test_the_summary_lists_every_cut(film, tmp_path):
    src, _ = film
    out, summary = tmp_path / "out.mp4", tmp_path / "summary.json"
    r = subprocess.run(
        [sys.executable, "-m", "deeperfour", "modernize", str(src), "-o", str(out), "--summary-json", str(summary)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert r.returncode == 0, r.stderr
    cuts = json.loads(summary.read_text())["cuts"]
    assert cuts == [
        {"frame": 25, "time": 1.0, "timecode": "00:00:01.000"},
        {"frame": 50, "time": 2.0, "timecode": "00:00:02.000"},
    ]
    assert "3 shot(s)" in r.stdout and "cuts at frame: 25 (00:00:01.000), 50 (00:00:02.000)" in r.stdout


def test_preview_shows_before_and_after_from_several_shots(film, tmp_path):
    src, _ = film
    r = subprocess.run(
        [sys.executable, "-m", "deeperfour", "preview", str(src), "--excerpts", "3", "--seconds", "0.6"],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
    )
    assert r.returncode == 0, r.stderr
    out = tmp_path / "in.preview.mp4"
    a, b = probe(src), probe(out)
    assert (b.width, b.height, b.audio_streams) == (2 * a.width, a.height, 0)
    assert b.frame_count == 3 * 15  # three excerpts of 0.6 s, one from each shot
    assert "00:00:00.200, 00:00:01.200, 00:00:02.200" in r.stdout
    side = frames(out)[20].astype(int)
    left, right = side[:, : a.width], side[:, a.width :]
    assert np.abs(left[..., 0] - left[..., 2]).mean() < 3 < np.abs(right[..., 0] - right[..., 2]).mean()
