"""`deeperfour preview IN`: a short before/after film for judging settings in a minute.

A few excerpts of a few seconds, spread evenly over the film (so taken from several shots of any real film), are
each run through the stages as a little film of their own (the stabilizer starts afresh in each) and written one
after the other, the source on the left and the result on the right, without sound. A photo gives a side-by-side
image.
"""

from __future__ import annotations

import dataclasses
import sys
import time
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

from deeperfour.errors import InputError
from deeperfour.pipeline import options, signals, table
from deeperfour.pipeline.chunks import chunks
from deeperfour.pipeline.embedded import check_paths, keep_colour, load_stages
from deeperfour.pipeline.frames import frames_to_tensor, tensor_to_frames
from deeperfour.pipeline.runner import run_chunk
from deeperfour.video import colour, excerpt, images
from deeperfour.video.io import Encoder, read_frames
from deeperfour.video.probe import probe

EXCERPTS = 3
SECONDS = 2.0


def spans(duration: float, count: int, seconds: float) -> list[tuple[Fraction, Fraction]]:
    """(start, length) of up to `count` excerpts of `seconds`, centred on evenly spaced points of the film; fewer
    when the film is too short to hold them apart, the whole film when it is shorter than one."""
    if duration <= seconds:
        return [(Fraction(0), Fraction(duration).limit_denominator(1000) or Fraction(1))]
    count = max(1, min(count, int(duration // seconds)))
    out = []
    for k in range(count):
        centre = duration * (k + 0.5) / count
        start = min(max(0.0, centre - seconds / 2), duration - seconds)
        out.append((Fraction(start).limit_denominator(1000), Fraction(seconds).limit_denominator(1000)))
    return out


def preview(
    input: str,
    output: str,
    *,
    excerpts: int = EXCERPTS,
    seconds: float = SECONDS,
    stages=table.DEFAULT,
    recolor: bool = False,
    quiet: bool = False,
    chunk_frames: int = options.CHUNK_FRAMES,
    codec=None,
    crf=18,
    encoder_preset="medium",
    pix_fmt=None,
    **model_options,
) -> dict:
    """Write the before/after preview of `input` to `output`; returns {frames, excerpts: [start timecodes], seconds}.
    `model_options`: preset, weights, style, render_factor, device, batch_size, allow_random (as for modernize)."""
    if excerpts < 1 or seconds <= 0:
        raise InputError("--excerpts must be at least 1 and --seconds more than 0")
    started = time.perf_counter()
    if images.is_still(input):
        return _photo(input, output, stages=stages, recolor=recolor, **model_options)
    stages = table.parse(stages)
    options.check_numbers(
        render_factor=model_options.get("render_factor"),
        batch_size=model_options.get("batch_size", 8),
        chunk_frames=chunk_frames,
        device=model_options.get("device", "cpu"),
    )
    options.stage_notes(stages)
    with signals.catching() as caught:
        info = probe(input)
        check_paths(input, output)
        stages = keep_colour(input, lambda: colour.colour_share(info), stages, recolor, [])
        pipeline = load_stages(stages, None, **model_options)
        cuts = [excerpt.select(info, start, length, None) for start, length in spans(info.duration, excerpts, seconds)]
        total = sum(c.count for c in cuts if c)
        side = dataclasses.replace(info, width=2 * info.width)
        encoder = Encoder(output, side, codec=codec, crf=crf, preset=encoder_preset, pix_fmt=pix_fmt)
        from tqdm import tqdm

        bar = tqdm(total=total, unit="frame", desc="preview", disable=quiet, file=sys.stderr, dynamic_ncols=True)
        try:
            for cut in cuts:
                frames = read_frames(input, info, cut)
                for chunk in chunks(frames, float(info.fps), chunk_frames):
                    caught.check()
                    if chunk.index == 0:
                        states = [None] * len(pipeline)
                    out, states = run_chunk(pipeline, frames_to_tensor(chunk.frames), states)
                    for before, after in zip(chunk.frames, tensor_to_frames(out)):
                        encoder.write(np.hstack([_label(before, "before"), _label(after, "after")]))
                    bar.update(len(chunk.frames))
                frames.close()
            caught.check()
            encoder.close()
        except BaseException:
            encoder.abort()
            raise
        finally:
            bar.close()
    return {
        "frames": total,
        "excerpts": [excerpt.timecode(c.start) for c in cuts if c],
        "seconds": round(time.perf_counter() - started, 3),
    }


def _label(frame: np.ndarray, text: str) -> np.ndarray:
    """`text` in the top-left corner, white on a dark outline, sized to the frame."""
    h, w = frame.shape[:2]
    scale = max(0.3, w / 640)
    out = np.ascontiguousarray(frame)
    if h < 24 or w < 48:
        return out
    out = out.copy()
    at = (max(2, w // 60), max(12, int(24 * scale)))
    thickness = max(1, round(scale))
    cv2.putText(out, text, at, cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), thickness + 2, cv2.LINE_AA)
    cv2.putText(out, text, at, cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), thickness, cv2.LINE_AA)
    return out


def _photo(input: str, output: str, **options_) -> dict:
    """A photo's preview: the source and the result side by side, in the output's format."""
    import tempfile

    from deeperfour.pipeline.photo import modernize_photo, publish

    images.check_output(output)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="deeperfour-preview-") as tmp:
        result = Path(tmp) / ("result" + Path(output).suffix.lower())
        modernize_photo(input, str(result), **options_)
        before, after = images.read(input), images.read(result)
    rgb = np.hstack([before.rgb, after.rgb.astype(before.rgb.dtype)])
    for note in publish(output, images.Still(rgb, None)):
        print(f"deeperfour: note: {note}", file=sys.stderr)
    return {"frames": 1, "excerpts": [], "seconds": round(time.perf_counter() - started, 3)}
