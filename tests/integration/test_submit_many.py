"""`deeperfour submit IN...` with films and folders (one job per film, one table of job ids, the results downloaded
into a mirrored tree) and `deeperfour status` without an id (the recent jobs with their progress), through the real
command against the real stack."""

from __future__ import annotations

import shutil
import subprocess
import sys

import cv2
import numpy as np
import pytest

from deeperfour.video.probe import probe

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def cli(stack, *args) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "deeperfour",
            *map(str, args),
            f"--address={stack.gateway_address()}",
            f"--token={stack.token}",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_submit_films_and_folders_then_list_the_recent_jobs(stack, clips, tmp_path):
    reels = tmp_path / "reels"
    (reels / "sub").mkdir(parents=True)
    shutil.copy(clips["short"], reels / "a.mp4")
    shutil.copy(clips["short"], reels / "sub" / "b.mp4")
    assert cv2.imwrite(str(reels / "scan.png"), np.full((32, 48, 3), 128, np.uint8))
    out = tmp_path / "out"
    r = cli(stack, "submit", reels, clips["cut"], "--stages", "colorize", "--wait", "-o", out)
    assert r.returncode == 0, r.stderr

    # one table: a job per film, the photo passed over; then where each film was downloaded
    lines = r.stdout.splitlines()
    assert lines[0].split() == ["file", "job", "id"]
    rows = {line.split()[0]: line.split()[1:] for line in lines[1:5]}
    assert set(rows) == {str(reels / "a.mp4"), str(reels / "sub" / "b.mp4"), str(reels / "scan.png"), str(clips["cut"])}
    assert rows[str(reels / "scan.png")][0] == "skipped:"
    ids = {name: rows[name][0] for name in rows if name != str(reels / "scan.png")}
    assert len(set(ids.values())) == 3 and all(len(i) == 32 for i in ids.values())
    assert lines[5:] == [str(out / "a.mp4"), str(out / "sub" / "b.mp4"), str(out / "cut.mp4")]
    for src, got in [(reels / "a.mp4", "a.mp4"), (reels / "sub" / "b.mp4", "sub/b.mp4"), (clips["cut"], "cut.mp4")]:
        assert probe(out / got).frame_count == probe(src).frame_count

    # status without an id: the most recent jobs first, each with its state and progress
    r = cli(stack, "status")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].split()[:5] == ["job", "id", "state", "progress", "frames"]
    newest = [ids[str(clips["cut"])], ids[str(reels / "sub" / "b.mp4")], ids[str(reels / "a.mp4")]]
    assert [line.split()[0] for line in lines[1:4]] == newest
    for name, job_id in ids.items():
        line = next(line for line in lines if line.startswith(job_id))
        assert "succeeded" in line and "100% (" in line and line.endswith(name.rsplit("/", 1)[-1])
    r = cli(stack, "status", "--limit", "2")
    lines = r.stdout.splitlines()
    assert [line.split()[0] for line in lines[1:3]] == newest[:2]
    assert lines[3].startswith("2 most recent of ") and lines[3].endswith("jobs (--all lists every one)")


def test_submit_refuses_a_lone_photo_and_reports_a_missing_film(stack, clips, tmp_path):
    photo = tmp_path / "scan.jpg"
    assert cv2.imwrite(str(photo), np.full((32, 48, 3), 128, np.uint8))
    r = cli(stack, "submit", photo)
    assert r.returncode == 2 and r.stderr.strip().splitlines() == [
        f"deeperfour: error: {photo}: a photo: the stack takes films (deeperfour modernize does photos)"
    ]
    r = cli(stack, "submit", clips["short"], tmp_path / "missing.mp4", "--stages", "colorize")
    assert r.returncode == 1, r.stderr  # the film is sent, the missing one reported in the table
    table = {line.split()[0]: " ".join(line.split()[1:]) for line in r.stdout.splitlines()[1:]}
    assert len(table[str(clips["short"])]) == 32
    assert table[str(tmp_path / "missing.mp4")] == f"not sent: {tmp_path / 'missing.mp4'}: no such file"
