"""Folders and lists through the real `deeperfour` command: a mirrored tree of results, a broken file reported while
the batch goes on, a file done before skipped, the table and the report."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from deeperfour.video.probe import probe
from tests.conftest import make_clip
from tests.integration.conftest import audio_packets

FAST = ("--batch-size", "4", "--chunk-frames", "8")


def run(*args, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "deeperfour", *map(str, args)], capture_output=True, text=True, cwd=cwd, timeout=900
    )


def grey_photo(path: Path, size=(80, 56)) -> Path:
    w, h = size
    ramp = np.tile(np.linspace(20, 235, w, dtype=np.uint8), (h, 1))
    ramp[h // 3 : h // 2, w // 4 : w // 2] = 240  # a bright patch
    assert cv2.imwrite(str(path), np.dstack([ramp] * 3))
    return path


@pytest.fixture
def reels(tmp_path) -> Path:
    """reels/: two films with sound (one in a subfolder), two photos, a broken film, notes and a hidden file."""
    d = tmp_path / "reels"
    (d / "sub").mkdir(parents=True)
    make_clip(d / "a.mp4", shots=2, shot_seconds=0.6)
    make_clip(d / "sub" / "b.mkv", shots=1, shot_seconds=0.8)
    grey_photo(d / "scan.png")
    grey_photo(d / "sub" / "scan2.jpg")
    (d / "broken.mp4").write_text("not a film\n" * 50)
    (d / "notes.txt").write_text("not in a list: a .txt inside a folder is passed over\n")
    (d / ".DS_Store").write_bytes(b"\0" * 10)
    return d


def test_a_folder_with_a_broken_file_and_a_file_done_before(reels, tmp_path):
    out = tmp_path / "out"
    first = run("modernize", reels / "a.mp4", "-o", f"{out}{os.sep}", *FAST)  # a batch of one, into OUTDIR
    assert first.returncode == 0, first.stderr
    done_before = (out / "a.mp4").stat().st_mtime_ns

    report = tmp_path / "report.json"
    r = run("modernize", reels, "-o", out, "--report", report, *FAST)
    assert r.returncode == 1, r.stderr  # one file failed
    assert "deeperfour: error: " in r.stderr and "broken.mp4: not a readable video" in r.stderr
    assert "Traceback" not in r.stderr

    # the mirrored tree; the broken file has no output, the film done before was not made again
    written = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    assert written == [".deeperfour-manifest.json", "a.mp4", "scan.png", "sub/b.mkv", "sub/scan2.jpg"]
    assert (out / "a.mp4").stat().st_mtime_ns == done_before
    assert not [p for p in out.rglob(".deeperfour-*") if p.is_dir()]
    film, result = probe(reels / "sub" / "b.mkv"), probe(out / "sub" / "b.mkv")
    assert (result.frame_count, result.width, result.height) == (film.frame_count, film.width, film.height)
    assert audio_packets(out / "sub" / "b.mkv") == audio_packets(reels / "sub" / "b.mkv")
    for name in ("scan.png", "sub/scan2.jpg"):
        colour = cv2.imread(str(out / name))
        assert colour.shape == cv2.imread(str(reels / name)).shape
        assert np.abs(colour[..., 0].astype(int) - colour[..., 2]).mean() > 1  # colorized

    # the report and the table agree, file by file
    rows = {Path(row["input"]).name: row for row in json.loads(report.read_text())["files"]}
    assert {n: rows[n]["result"] for n in rows} == {
        "a.mp4": "skipped (done before)",
        "broken.mp4": "failed",
        "scan.png": "done",
        "b.mkv": "done",
        "scan2.jpg": "done",
    }
    assert "not a readable video" in rows["broken.mp4"]["error"]
    assert rows["b.mkv"]["frames"] == film.frame_count and rows["b.mkv"]["fps"] > 0
    assert rows["scan.png"]["frames"] == 1 and rows["b.mkv"]["output"] == str(out / "sub" / "b.mkv")
    table = r.stdout
    assert table.splitlines()[0].split() == ["file", "frames", "time", "(s)", "fps", "result"]
    line = next(ln for ln in table.splitlines() if ln.startswith(str(reels / "sub" / "b.mkv")))
    assert line.split()[1] == str(film.frame_count) and line.split()[-1] == "done"
    assert "failed: not a readable video" in table
    assert table.strip().splitlines()[-1] == "1 skipped, 1 failed, 3 done"

    # a second run skips everything done; the CSV report says so
    again = run("modernize", reels, "-o", out, "--report", tmp_path / "report.csv", *FAST)
    assert again.returncode == 1
    with open(tmp_path / "report.csv", newline="") as f:
        results = sorted(row["result"] for row in csv.DictReader(f))
    assert results == ["failed"] + ["skipped (done before)"] * 4


def test_dry_run_lists_and_changed_options_redo(reels, tmp_path):
    out = tmp_path / "out"
    assert run("modernize", reels / "sub" / "scan2.jpg", "-o", f"{out}{os.sep}").returncode == 0
    listing = tmp_path / "todo.txt"
    listing.write_text(f"# films to do\nreels/a.mp4\n\n{reels / 'sub' / 'scan2.jpg'}\nreels/missing.mp4\n")
    r = run("modernize", listing, "-o", out, "--dry-run", "--format", "mkv")
    assert r.returncode == 1, r.stderr  # the missing file
    rows = {line.split()[0]: line.split()[1:] for line in r.stdout.splitlines()[1:]}
    assert rows[str(tmp_path / "reels" / "a.mp4")] == [str(out / "a.mkv"), "to", "do", "(film)"]
    assert rows[str(reels / "sub" / "scan2.jpg")] == [str(out / "scan2.jpg"), "skip", "(done", "before)"]
    assert "missing.mp4: no such file" in " ".join(rows[str(tmp_path / "reels" / "missing.mp4")])
    assert sorted(p.name for p in out.iterdir()) == [".deeperfour-manifest.json", "scan2.jpg"]  # nothing made
    changed = run("modernize", listing, "-o", out, "--dry-run", "--render-factor", "20")
    rows = {line.split()[0]: line.split()[2:] for line in changed.stdout.splitlines()[1:]}
    assert rows[str(reels / "sub" / "scan2.jpg")] == ["to", "do", "(photo)"]


def test_batch_options_need_a_batch_and_bad_ones_are_one_line(reels, tmp_path):
    for args, words in [
        (["--report", tmp_path / "r.json"], "--report is for a batch"),
        (["--dry-run"], "--dry-run is for a batch"),
    ]:
        r = run("modernize", reels / "a.mp4", "-o", tmp_path / "x.mp4", *args)
        assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and words in r.stderr, r.stderr
    for args, words in [
        (["--report", tmp_path / "r.txt"], "name a .json or .csv file"),
        (["--format", "gif"], "--format gif: use one of mp4"),
        (["--summary-json", tmp_path / "s.json"], "--summary-json is for one film"),
    ]:
        r = run("modernize", reels, "-o", tmp_path / "out", *args)
        assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and words in r.stderr, r.stderr
    (tmp_path / "file").write_text("")
    r = run("modernize", reels, "-o", tmp_path / "file", "--dry-run")
    assert r.returncode == 2 and "is not a folder" in r.stderr
