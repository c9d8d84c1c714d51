"""The ffmpeg DeeperFour runs: imageio-ffmpeg's, whatever is on PATH, unless DEEPERFOUR_FFMPEG_BIN names another;
one that is not ffmpeg, is too old or lacks an encoder is refused in one line."""

from __future__ import annotations

import os
import stat

import pytest

from deeperfour.video import binary
from deeperfour.video.binary import FfmpegError, inspect, parse_encoders, parse_version


def test_versions_of_the_builds_people_have():
    assert parse_version("ffmpeg version 5.1.6-0+deb12u1 Copyright (c) 2000-2024 the FFmpeg developers") == (5, 1)
    assert parse_version("ffmpeg version n9.0.2-17-g2a571b6068-20260930 Copyright") == (9, 0)
    assert parse_version("ffmpeg version 4.4.2-0ubuntu0.22.04.1") == (4, 4)
    assert parse_version("ffmpeg version N-118765-g1234abcd Copyright") is None  # a git snapshot: no release number


def test_encoder_list():
    text = """Encoders:
 V..... = Video
 ------
 V....D libx264              libx264 H.264 / AVC / MPEG-4 AVC (codec h264)
 A....D aac                  AAC (Advanced Audio Coding)
 S..... mov_text             3GPP Timed Text subtitle
"""
    assert parse_encoders(text) == {"libx264", "aac", "mov_text"}


def test_the_bundled_ffmpeg_is_used_whatever_is_on_path(tmp_path, monkeypatch):
    import imageio_ffmpeg

    fake = tmp_path / "ffmpeg"  # an ffmpeg first on PATH must not be picked up
    fake.write_text("#!/bin/sh\nexit 1\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.delenv("DEEPERFOUR_FFMPEG_BIN", raising=False)
    monkeypatch.delenv("FFMPEG_BIN", raising=False)
    found = binary.ffmpeg()
    assert found.path == imageio_ffmpeg.get_ffmpeg_exe() and found.bundled
    assert found.version is not None and found.version >= binary.MIN_VERSION
    assert {"libx264", "libvpx-vp9", "aac", "ffv1"} <= found.encoders
    with pytest.raises(FfmpegError, match="has no 'libnothing' encoder"):
        found.require_encoder("libnothing")


def _script(path, text: str) -> str:
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return str(path)


def test_a_program_that_is_not_ffmpeg_is_refused(tmp_path):
    with pytest.raises(FfmpegError, match=r"DEEPERFOUR_FFMPEG_BIN=/bin/echo is not ffmpeg"):
        inspect("/bin/echo")
    with pytest.raises(FfmpegError, match="no such program"):
        inspect(str(tmp_path / "missing-ffmpeg"))


def test_an_ffmpeg_older_than_needed_is_refused_with_what_to_do(tmp_path):
    """A stand-in printing Debian 11's version line (the real old build is not installed here)."""
    old = _script(tmp_path / "ffmpeg-4.3", '#!/bin/sh\necho "ffmpeg version 4.3.6-0+deb11u1 Copyright"\n')
    with pytest.raises(FfmpegError) as e:
        inspect(old)
    message = str(e.value)
    assert "\n" not in message
    assert "is version 4.3.6-0+deb11u1; DeeperFour needs ffmpeg 5.1 or newer" in message
    assert "unset DEEPERFOUR_FFMPEG_BIN" in message
