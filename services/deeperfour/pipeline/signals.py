"""Ctrl-C, SIGTERM and SIGHUP end a run the same way: the first one raises `Interrupted` in the main thread, the run
removes what it wrote, and the command exits with one line and 128 + the signal's number. Later signals are ignored
until the outermost `catching()` block ends, so an impatient second press (or a supervisor's repeated SIGTERM) cannot
cut the clean-up short.
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from deeperfour.errors import Interrupted

SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
NAMES = {signal.SIGINT: "Ctrl-C", signal.SIGTERM: "SIGTERM", signal.SIGHUP: "SIGHUP"}

_first: int | None = None  # the signal that started the clean-up, for every nested block
_depth = 0


class Catcher:
    """Remembers the first signal: one that Python delivered inside a finaliser is printed and dropped there, so the
    run calls `check()` at safe points to raise it again."""

    def __init__(self) -> None:
        self.signum: int | None = None

    def __call__(self, signum, frame) -> None:
        global _first
        if _first is not None:
            return
        _first = self.signum = signum
        raise Interrupted(signum)

    def check(self) -> None:
        """Raise the signal again if one came (here or in an enclosing block) and was swallowed on the way."""
        signum = self.signum if self.signum is not None else _first
        if signum is not None:
            raise Interrupted(signum)


def check() -> None:
    """Raise Interrupted if a signal came within a `catching()` block: an error that follows it (an import cut
    short leaves a module half made) is the interruption's, and is reported as that."""
    if _first is not None:
        raise Interrupted(_first)


@contextmanager
def catching() -> Iterator[Catcher]:
    """Within the block, SIGINT, SIGTERM and SIGHUP raise Interrupted once (main thread only; elsewhere a no-op).
    A signal this process was started with ignored stays ignored (`nohup` for SIGHUP, a background job's SIGINT)."""
    global _depth, _first
    catcher = Catcher()
    if threading.current_thread() is not threading.main_thread():
        yield catcher
        return
    previous = {s: signal.signal(s, catcher) for s in SIGNALS if signal.getsignal(s) is not signal.SIG_IGN}
    _depth += 1
    try:
        yield catcher
    finally:
        _depth -= 1
        if _depth == 0:
            _first = None
        for s, handler in previous.items():
            if signal.getsignal(s) is catcher:  # report() may have set SIG_IGN for the way out: keep that
                signal.signal(s, handler if handler is not None else signal.SIG_DFL)


def report(e: KeyboardInterrupt) -> int:
    """After the clean-up: ignore further signals, say what happened in one line, return the exit code."""
    for s in SIGNALS:
        signal.signal(s, signal.SIG_IGN)
    signum = getattr(e, "signum", signal.SIGINT)
    done = getattr(e, "resume_hint", None) or "no output was written"  # what a resumable run kept, and how to resume
    print(f"deeperfour: interrupted ({NAMES.get(signum, signum)}); {done}", file=sys.stderr)
    return 128 + int(signum)
