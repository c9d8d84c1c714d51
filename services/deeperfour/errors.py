"""Errors meant for people: one line that says what is wrong and what to do."""


class DeeperFourError(Exception):
    """A user-facing failure; the CLI prints its message on one line and exits non-zero."""

    exit_code = 2


class InputError(DeeperFourError):
    """The input file is missing, unreadable or not a usable video."""


class OutputError(DeeperFourError):
    """The output path cannot be written."""


class WeightsError(DeeperFourError):
    """A checkpoint is missing, unsafe, truncated or of another model."""


class Interrupted(KeyboardInterrupt):
    """Ctrl-C, SIGTERM or SIGHUP: the run cleans up as for Ctrl-C and the process exits with 128 + the signal."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum
