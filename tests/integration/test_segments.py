"""Segmented encoding (video/segments.py) with the real ffmpeg: joining segments loses no pixel, and an encoder that
starts again at a segment boundary makes the film an unbroken run makes."""

from __future__ import annotations

import numpy as np
import pytest

from deeperfour.video import segments
from deeperfour.video.io import Encoder, read_frames
from deeperfour.video.probe import probe
from tests.conftest import make_clip

N = segments.SEGMENT_FRAMES


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    """A noisy film of 2.5 segments (noise keeps x264's rate control busy), and its decoded frames."""
    d = tmp_path_factory.mktemp("segments")
    clip = make_clip(d / "noisy.mp4", size=(96, 64), shots=2, shot_seconds=4.8, filters="noise=c0s=30:c0f=t")
    info = probe(clip)
    frames = np.stack(list(read_frames(str(clip), info)))
    assert len(frames) == 240 and segments.count(len(frames)) == 3
    return clip, info, frames


def decode(path) -> np.ndarray:
    return np.stack(list(read_frames(str(path), probe(path))))


def test_segments_join_without_losing_a_pixel(source, tmp_path):
    clip, info, frames = source
    out = tmp_path / "lossless.mkv"
    encoder = Encoder(str(out), info, codec="ffv1", pix_fmt="gbrp")
    for frame in frames:
        encoder.write(frame)
    assert encoder.segments_done == 2  # two full segments finished while writing; the last one at close
    encoder.close()
    np.testing.assert_array_equal(decode(out), frames)
    assert probe(out).fps == info.fps and not probe(out).variable_frame_rate


@pytest.mark.parametrize("ext", [".mp4", ".mkv", ".webm"])
def test_an_encoder_started_again_at_a_boundary_gives_the_same_film(ext, source, tmp_path):
    clip, info, frames = source
    whole = tmp_path / f"whole{ext}"
    encoder = Encoder(str(whole), info, audio_from=str(clip))
    for frame in frames:
        encoder.write(frame)
    encoder.close()

    work = tmp_path / "work"
    work.mkdir()
    first = Encoder(str(tmp_path / f"resumed{ext}"), info, audio_from=str(clip), folder=str(work))
    for frame in frames[: N + 40]:  # killed 40 frames into the second segment
        first.write(frame)
    first.abort()
    assert sorted(p.name for p in work.iterdir()) == [f"seg-000000{ext}"]  # the unfinished segment is gone
    again = Encoder(str(tmp_path / f"resumed{ext}"), info, audio_from=str(clip), folder=str(work), resume_at=1)
    assert again.frames == N
    for frame in frames[N:]:
        again.write(frame)
    again.close()
    np.testing.assert_array_equal(decode(tmp_path / f"resumed{ext}"), decode(whole))
    assert probe(tmp_path / f"resumed{ext}").frame_count == len(frames)
