"""`python -m deeperfour.orchestrator`: settings from DEEPERFOUR_* env vars (see services/orchestrator/README.md)."""

import sys

from deeperfour import logs, settings
from deeperfour.errors import DeeperFourError


def main() -> int:
    settings.prefer_sleeping_threads()
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
