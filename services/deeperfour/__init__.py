"""DeeperFour: colorize, stabilize and cartoonize black-and-white films.

Importing the package is cheap (no torch, no gRPC); `modernize` loads the pipeline on first use.
"""

import os

# Torch's OpenMP threads otherwise spin while waiting; on a shared CPU (ffmpeg beside us, or other processes) that
# slowed the lite models 5-15x. Must be set before torch is first imported, hence here.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__version__ = "0.1.0"


def modernize(input, output, **options):
    """Modernize a film in this process; see `deeperfour.pipeline.embedded.modernize`."""
    from deeperfour.pipeline.embedded import modernize as _modernize

    return _modernize(input, output, **options)
