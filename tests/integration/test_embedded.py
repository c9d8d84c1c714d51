"""Embedded pipeline end to end with the real ffmpeg: what goes in comes out with its frames, rate, size and sound."""

from __future__ import annotations

import av
import numpy as np
import pytest
import torch

from deeperfour import settings
from deeperfour.errors import InputError
from deeperfour.pipeline import table
from deeperfour.pipeline.embedded import modernize
from deeperfour.pipeline.frames import frames_to_tensor, from_planes, planes, tensor_to_frames, to_planes
from deeperfour.pipeline.runner import run_chunk
from deeperfour.pipeline.stages import StabilizeStage, build_stages
from deeperfour.video.io import read_frames
from deeperfour.video.probe import probe
from deeperfour.video.shots import ShotDetector

LOSSLESS = dict(codec="ffv1", pix_fmt="gbrp")  # exact frames, so tests can compare pixels
FAST = dict(quiet=True, allow_random=True, batch_size=4, chunk_frames=8)


def frames(path):
    return np.stack(list(read_frames(str(path), probe(path))))


def packets(path):
    """Every audio stream's packet payloads, per stream."""
    with av.open(str(path)) as c:
        out = {s.index: [] for s in c.streams.audio}
        for p in c.demux(*c.streams.audio):
            if p.size:
                out[p.stream.index].append(bytes(p))
    return list(out.values())


def shot_starts(path):
    info = probe(path)
    detector = ShotDetector(fps=float(info.fps))
    return [i for i, f in enumerate(read_frames(str(path), info)) if detector.push(f)]


def test_frames_rate_size_and_audio_are_kept(clip, tmp_path):
    src = clip("in.mp4", size=(96, 64), shots=2, audio_tracks=1)
    out = tmp_path / "out.mp4"
    summary = modernize(src, out, **FAST)
    a, b = probe(src), probe(out)
    assert (b.width, b.height, b.fps, b.frame_count) == (a.width, a.height, a.fps, a.frame_count)
    assert summary["frames"] == a.frame_count and summary["shots"] == 2
    assert packets(out) == packets(src) and len(packets(src)[0]) > 10
    assert frames(out).std(axis=(0, 1, 2)).min() > 0  # colorized: not an empty or constant picture


def test_stabilizer_restarts_at_every_cut(clip, tmp_path):
    src = clip("cuts.mp4", shots=3, shot_seconds=0.6)
    starts = shot_starts(src)
    assert len(starts) == 3
    colorized = frames(modernize(src, tmp_path / "c.mkv", stages="colorize", **FAST, **LOSSLESS) and tmp_path / "c.mkv")
    stabilized = frames(modernize(src, tmp_path / "s.mkv", **FAST, **LOSSLESS) and tmp_path / "s.mkv")
    for s in starts:  # O_0 = P_0: the first stabilized frame of each shot is that shot's colorized frame
        np.testing.assert_array_equal(stabilized[s], colorized[s])
    later = [s + 3 for s in starts]
    assert any(not np.array_equal(stabilized[t], colorized[t]) for t in later), "the stabilizer never ran"


def test_chunking_does_not_change_frames(clip, tmp_path):
    """State carried across chunk boundaries: 3-frame chunks give the single-chunk result."""
    src = clip("long.mp4", shots=1, shot_seconds=1.0)
    one = frames(modernize(src, tmp_path / "a.mkv", **{**FAST, "chunk_frames": 64}, **LOSSLESS) and tmp_path / "a.mkv")
    many = frames(modernize(src, tmp_path / "b.mkv", **{**FAST, "chunk_frames": 3}, **LOSSLESS) and tmp_path / "b.mkv")
    np.testing.assert_array_equal(one, many)


def test_second_run_is_identical(clip, tmp_path):
    src = clip("det.mp4")
    modernize(src, tmp_path / "1.mkv", **FAST, **LOSSLESS)
    modernize(src, tmp_path / "2.mkv", **FAST, **LOSSLESS)
    np.testing.assert_array_equal(frames(tmp_path / "1.mkv"), frames(tmp_path / "2.mkv"))


def test_cartoonize_then_stabilize_again(clip, tmp_path):
    src = clip("toon.mp4", shots=1, shot_seconds=0.4)
    out = tmp_path / "toon_out.mp4"
    summary = modernize(src, out, stages="colorize,stabilize,cartoonize,stabilize", **FAST)
    assert probe(out).frame_count == probe(src).frame_count
    assert set(summary["stages"]) == {"colorize", "stabilize", "cartoonize"}


@pytest.mark.parametrize("case", ["odd_size", "several_audio_and_subtitles", "no_audio", "rotation", "vfr"])
def test_awkward_input_is_processed(case, clip, tmp_path):
    if case == "odd_size":
        src = clip("odd.mp4", size=(97, 63))
    elif case == "several_audio_and_subtitles":
        src = clip("multi.mkv", audio_tracks=2, subtitles=True)
    elif case == "no_audio":
        src = clip("silent.mp4", audio_tracks=0)
    elif case == "rotation":
        from tests.conftest import ffmpeg

        plain = clip("plain.mp4", size=(96, 64))
        src = tmp_path / "rot.mp4"
        ffmpeg("-display_rotation", "90", "-i", str(plain), "-c", "copy", str(src))
    else:  # variable frame rate: every third frame is held twice as long
        src = clip("vfr.mkv", filters="setpts=(N+floor(N/3))/25/TB", extra=["-fps_mode", "vfr"])
    out = tmp_path / ("out" + src.suffix)
    modernize(src, out, **FAST)
    a, b = probe(src), probe(out)
    assert (b.width, b.height) == (a.width, a.height)
    assert b.frame_count == a.frame_count
    assert (b.audio_streams, b.subtitle_streams) == (a.audio_streams, a.subtitle_streams)
    if case == "several_audio_and_subtitles":
        assert packets(out) == packets(src)
    if case == "vfr":
        assert a.variable_frame_rate and abs(b.duration - a.duration) < 0.1


@pytest.mark.parametrize("cover_first", [False, True])
def test_a_cover_picture_is_not_read_as_frames(cover_first, clip, tmp_path):
    from tests.conftest import ffmpeg

    plain = clip("plain.mp4", size=(96, 64))
    cover, src = tmp_path / "cover.png", tmp_path / "covered.mp4"
    ffmpeg("-f", "lavfi", "-i", "testsrc=size=80x48", "-frames:v", "1", str(cover))
    k = 0 if cover_first else 1  # the cover's place among the video streams
    maps = ["-map", "1", "-map", "0"] if cover_first else ["-map", "0", "-map", "1"]
    ffmpeg(
        "-i",
        str(plain),
        "-i",
        str(cover),
        *maps,
        "-c",
        "copy",
        f"-c:v:{k}",
        "png",
        f"-disposition:v:{k}",
        "attached_pic",
        str(src),
    )
    summary = modernize(src, tmp_path / "out.mp4", **FAST)
    modernize(plain, tmp_path / "plain-out.mp4", **FAST)
    assert np.array_equal(frames(tmp_path / "out.mp4"), frames(tmp_path / "plain-out.mp4"))
    assert packets(tmp_path / "out.mp4") == packets(plain)
    assert any("cover picture" in n for n in summary["notes"])


@pytest.mark.slow
def test_a_film_of_several_minutes(clip, tmp_path):
    src = clip("long.mp4", size=(64, 48), shots=3, shot_seconds=50, fps="12")  # 2.5 minutes, 1800 frames
    out = tmp_path / "long_out.mp4"
    summary = modernize(src, out, **{**FAST, "chunk_frames": 32, "batch_size": 16})
    assert summary["frames"] == probe(src).frame_count == probe(out).frame_count
    assert packets(out) == packets(src)


def test_real_old_film(shared_data, tmp_path):
    src = shared_data / "bw_film" / "muybridge_buffalo_running_1883.mp4"  # variable frame rate, with sound
    out = tmp_path / "buffalo.mp4"
    assert not modernize(src, out, **FAST)["notes"]  # black and white: colorized without a word
    a, b = probe(src), probe(out)
    assert (b.width, b.height, b.frame_count) == (a.width, a.height, a.frame_count)
    assert packets(out) == packets(src)
    rgb = frames(out).astype(np.float32)
    assert np.abs(rgb[..., 0] - rgb[..., 2]).mean() > 0.5  # no longer grey


def test_real_color_clip_with_a_cut(shared_data, tmp_path):
    src = shared_data / "color_video" / "stanley_cup_riot_scene_cuts.mp4"
    out = tmp_path / "riot.mkv"
    summary = modernize(src, out, **FAST)
    assert any("already in colour" in n for n in summary["notes"]) and summary["presets"] == ["stabilizer-lite"]
    a, b = probe(src), probe(out)
    assert (b.width, b.height, b.fps, b.frame_count) == (a.width, a.height, a.fps, a.frame_count)
    assert packets(out) == packets(src)


def test_frames_to_tensor_layout():
    f = np.zeros((2, 4, 6, 3), np.uint8)
    f[1, 2, 3] = (255, 0, 128)
    t = frames_to_tensor(f)
    assert t.shape == (2, 3, 4, 6) and t[1, 0, 2, 3] == 1.0 and t[1, 2, 2, 3] == 128 / 255


def test_uint8_planes_between_stages_are_exact():
    f = np.random.default_rng(0).integers(0, 256, (3, 5, 7, 3), dtype=np.uint8)
    x = frames_to_tensor(f)
    assert torch.equal(from_planes(planes(f)), x) and from_planes(planes(f)).is_contiguous()
    assert torch.equal(from_planes(to_planes(x)), x)


ALL_STAGES = "colorize,stabilize,cartoonize,stabilize"


def test_batch_size_does_not_change_pixels(clip, tmp_path):
    """Models see one frame per call, so --batch-size 1 and 8 give the same frames through every stage."""
    src = clip("batch.mp4", shots=2, shot_seconds=0.6)
    outs = {}
    for b in (1, 8):
        out = tmp_path / f"b{b}.mkv"
        modernize(src, out, stages=ALL_STAGES, **{**FAST, "batch_size": b}, **LOSSLESS)
        outs[b] = frames(out)
    np.testing.assert_array_equal(outs[1], outs[8])


@pytest.fixture(params=["auto", "2"])
def threads(request, monkeypatch):
    """Each stage in a thread of its own (one torch thread a stage on small frames), or all in one (two)."""
    monkeypatch.setenv("DEEPERFOUR_THREADS", request.param)
    settings.load()
    yield request.param
    settings.clear()


def test_stages_side_by_side_give_what_one_thread_gives(threads, clip, tmp_path):
    """Whether the stages run in threads of their own or in one, chunk after chunk, the film is what run_chunk
    gives on each whole shot in one thread, through four stages and many small chunks."""
    src = clip("side.mp4", shots=2, shot_seconds=0.6)
    out = tmp_path / "side.mkv"
    modernize(src, out, stages=ALL_STAGES, **{**FAST, "chunk_frames": 3}, **LOSSLESS)
    source, starts = frames(src), shot_starts(src)
    stages = build_stages(table.parse(ALL_STAGES), allow_random=True)
    expected = [
        tensor_to_frames(run_chunk(stages, frames_to_tensor(source[a:b]), [None] * len(stages))[0])
        for a, b in zip(starts, [*starts[1:], len(source)])
    ]
    assert len(starts) == 2
    np.testing.assert_array_equal(frames(out), np.concatenate(expected))


def test_a_later_stage_that_fails_stops_the_run(threads, clip, tmp_path, monkeypatch):
    """An error in a stage's own thread reaches the caller; the other threads stop and nothing is left behind."""
    src = clip("fails.mp4", shots=1, shot_seconds=1.0)
    calls = []

    def fail_on_third_chunk(self, frames, source, state):
        calls.append(len(frames))
        if len(calls) == 3:
            raise RuntimeError("stabilizer broke")
        return frames, state

    monkeypatch.setattr(StabilizeStage, "process", fail_on_third_chunk)
    with pytest.raises(RuntimeError, match="stabilizer broke"):
        modernize(src, tmp_path / "out.mp4", **{**FAST, "chunk_frames": 4})
    assert len(calls) == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fails.mp4"]


@pytest.mark.parametrize("size", [(1, 1), (2, 2), (13, 17), (16, 16)])
def test_tiny_frames_are_processed(size, tmp_path):
    from tests.conftest import ffmpeg

    w, h = size
    src = tmp_path / "tiny.mp4"
    ffmpeg(
        *("-f", "lavfi", "-i", "testsrc=size=32x32:rate=25:duration=0.4", "-f", "lavfi", "-t", "0.4", "-i", "sine"),
        *("-vf", f"scale={w}:{h},hue=s=0", "-c:v", "libx264", "-pix_fmt", "yuv444p", "-c:a", "aac", str(src)),
    )
    out = tmp_path / "tiny_out.mkv"
    modernize(src, out, stages=ALL_STAGES, **FAST, **LOSSLESS)
    a, b = probe(src), probe(out)
    assert (b.width, b.height, b.frame_count) == (a.width, a.height, a.frame_count) == (w, h, 10)


def test_avi_says_that_it_drops_subtitles(clip, tmp_path):
    src = clip("subs.mkv", subtitles=True)
    summary = modernize(src, tmp_path / "out.avi", **FAST)
    assert any("subtitle stream dropped" in n and ".avi cannot hold subtitles" in n for n in summary["notes"])
    b = probe(tmp_path / "out.avi")
    assert (b.audio_streams, b.subtitle_streams, b.frame_count) == (1, 0, probe(src).frame_count)


@pytest.mark.parametrize("filters", ["", "hue=s=0.25"])  # a colour film, and one faded to a quarter
def test_colour_film_keeps_its_colours_unless_recolor(filters, clip, tmp_path):
    src = clip("colour.mp4", gray=False, filters=filters)
    kept = modernize(src, tmp_path / "kept.mp4", **FAST)
    assert any("already in colour" in n and "--recolor" in n for n in kept["notes"])
    assert kept["presets"] == ["stabilizer-lite"]
    recoloured = modernize(src, tmp_path / "recoloured.mp4", recolor=True, **FAST)
    assert recoloured["presets"] == ["colorizer-lite", "stabilizer-lite"] and not recoloured["notes"]
    with pytest.raises(InputError, match=r"already in colour.*--recolor"):
        modernize(src, tmp_path / "nothing.mp4", stages="colorize", **FAST)
    assert not list(tmp_path.glob("nothing*")) and not list(tmp_path.glob(".deeperfour*"))


def test_toned_black_and_white_film_is_colorized(clip, tmp_path):
    """Sepia toning is one colour per lightness: still a black-and-white film."""
    sepia = "colorchannelmixer=.393:.769:.189:0:.349:.686:.168:0:.272:.534:.131"
    src = clip("sepia.mp4", filters=sepia)
    summary = modernize(src, tmp_path / "out.mp4", **FAST)
    assert summary["presets"][0] == "colorizer-lite" and not summary["notes"]


def test_an_unusual_stage_order_is_explained(clip, tmp_path):
    src = clip("order.mp4", shots=1, shot_seconds=0.4)
    summary = modernize(src, tmp_path / "out.mp4", stages="stabilize,colorize", **FAST)
    assert any("stabilize runs before colorize" in n for n in summary["notes"])


def test_a_fifo_is_read_into_a_temporary_file(clip, tmp_path):
    import os
    import shutil
    import threading

    src = clip("in.mp4")
    fifo = tmp_path / "film.pipe"
    os.mkfifo(fifo)

    def feed():
        with open(fifo, "wb") as pipe, open(src, "rb") as film:
            shutil.copyfileobj(film, pipe)

    writer = threading.Thread(target=feed, daemon=True)
    writer.start()
    out_dir = tmp_path / "outdir"
    out_dir.mkdir()
    summary = modernize(fifo, out_dir / "out.mp4", **FAST)
    writer.join(timeout=10)
    assert probe(out_dir / "out.mp4").frame_count == probe(src).frame_count == summary["frames"]
    assert packets(out_dir / "out.mp4") == packets(src)
    assert [p.name for p in out_dir.iterdir()] == ["out.mp4"]
