"""The stage table: every list of stages, components and storage names in the project is derived from STAGES.

Torch-free, so the gateway, the settings and the tools can import it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from deeperfour.errors import InputError


@dataclass(frozen=True)
class StageInfo:
    verb: str  # the stage: colorize
    component: str  # its model family, model server, image, Helm key and env prefix: colorizer
    stateful: bool  # carries shot state from one chunk of a shot to the next


STAGES = (
    StageInfo("colorize", "colorizer", stateful=False),
    StageInfo("stabilize", "stabilizer", stateful=True),
    StageInfo("cartoonize", "cartoonizer", stateful=False),
)
BY_VERB = {s.verb: s for s in STAGES}
VERBS = tuple(BY_VERB)
COMPONENTS = tuple(s.component for s in STAGES)
DEFAULT = ("colorize", "stabilize")


def info(verb: str) -> StageInfo:
    if verb not in BY_VERB:
        raise InputError(f"unknown stage {verb!r}; choose from {', '.join(VERBS)}")
    return BY_VERB[verb]


def parse(stages: str | Iterable[str]) -> list[str]:
    """'colorize,stabilize' or a list -> checked list, in order; a stage may be listed again (e.g. stabilize last)."""
    names = [s.strip() for s in (stages.split(",") if isinstance(stages, str) else stages) if s.strip()]
    unknown = [s for s in names if s not in BY_VERB]
    if unknown or not names:
        raise InputError(f"unknown stage(s) {', '.join(unknown) or '(none)'}; choose from {', '.join(VERBS)}")
    return names


def storage_names(stages: list[str]) -> list[str]:
    """The object-key name of each stage's output: its verb, and its position too when listed a second time."""
    return [s if stages.index(s) == k else f"{s}{k}" for k, s in enumerate(stages)]
