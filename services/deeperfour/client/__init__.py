"""Python SDK of the distributed mode.

from deeperfour.client import Client
job = Client("127.0.0.1:50051", token="…").submit("film.mp4", stages=["colorize", "stabilize"])
job.wait(progress=True)
job.download("out.mp4")

`Client` and `Job` are imported on first use, so the command line (client/cli.py) can describe its commands without
gRPC, which only the 'orchestrator' extra installs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from deeperfour.client.sdk import Client, Job

__all__ = ["Client", "Job"]


def __getattr__(name: str):
    if name in __all__:
        from deeperfour.client import sdk

        return getattr(sdk, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
