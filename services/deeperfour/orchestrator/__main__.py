"""`python -m deeperfour.orchestrator`: settings from DEEPERFOUR_* env vars (see services/orchestrator/README.md)."""

import sys

from deeperfour import logs, settings
from deeperfour.distributed.memory import keep_freed_memory
from deeperfour.errors import DeeperFourError


def main() -> int:
    settings.prefer_sleeping_threads()
    keep_freed_memory()  # chunk after chunk of frames: reuse the freed buffers' pages
    logs.setup("orchestrator")
    try:
        settings.load()
        from deeperfour.orchestrator.app import build_app

        build_app().run()
    except DeeperFourError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
