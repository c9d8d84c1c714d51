"""The structure the code relies on: one stage table, one settings reader, imports without side effects."""

from __future__ import annotations

import subprocess
import sys

import pytest

from deeperfour.errors import DeeperFourError
from deeperfour.pipeline import table
from deeperfour.settings import Settings


def test_stage_table_parses_and_names_repeated_stages():
    assert table.parse("colorize, stabilize,cartoonize,stabilize") == [
        "colorize",
        "stabilize",
        "cartoonize",
        "stabilize",
    ]
    assert table.storage_names(["colorize", "stabilize", "cartoonize", "stabilize"]) == [
        "colorize",
        "stabilize",
        "cartoonize",
        "stabilize3",
    ]
    assert [s.component for s in table.STAGES] == ["colorizer", "stabilizer", "cartoonizer"]
    assert [s.verb for s in table.STAGES if s.stateful] == ["stabilize"]
    for bad in ("sharpen", "", "colorize,,sharpen"):
        with pytest.raises(DeeperFourError, match="unknown stage"):
            table.parse(bad)


def test_settings_come_from_deeperfour_variables_and_the_old_ffmpeg_name():
    assert Settings({"FFMPEG_BIN": "/old/ffmpeg"}).ffmpeg_bin == "/old/ffmpeg"
    new = Settings({"FFMPEG_BIN": "/old/ffmpeg", "DEEPERFOUR_FFMPEG_BIN": "/new/ffmpeg"})
    assert new.ffmpeg_bin == "/new/ffmpeg"
    s = Settings(
        {
            "DEEPERFOUR_S3_SECURE": "true",
            "DEEPERFOUR_S3_ACCESS_KEY": "a",
            "DEEPERFOUR_S3_SECRET_KEY": "s",
            "DEEPERFOUR_COLORIZER_ADDR": "c:1",
            "DEEPERFOUR_GATEWAY_PORT": "7",
        }
    )
    assert s.s3.secure and s.orchestrator.model_servers["colorizer"] == "c:1" and s.client.address == "127.0.0.1:7"
    with pytest.raises(DeeperFourError, match="DEEPERFOUR_ORCHESTRATOR_RETRY_S='soon' is not an integer"):
        Settings({"DEEPERFOUR_ORCHESTRATOR_RETRY_S": "soon"}).orchestrator


def _imported(code: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env={"PATH": "/usr/bin:/bin"}
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_importing_the_package_changes_nothing_in_the_process():
    assert _imported("import os, deeperfour, deeperfour.cli; print(os.environ.get('OMP_WAIT_POLICY'))") == "None"


def test_the_gateway_needs_neither_the_orchestrator_nor_torch():
    code = (
        "import sys, deeperfour.gateway.server; print(sorted(m for m in ('torch', 'deeperfour.orchestrator') "
        "if m in sys.modules))"
    )
    assert _imported(code) == "[]"
