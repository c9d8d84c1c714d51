"""`python -m deeperfour.orchestrator`: settings from DEEPERFOUR_* env vars (see services/orchestrator/README.md)."""

import logging
import sys

from deeperfour.errors import DeeperFourError


def main() -> int:
    logging.basicConfig(level=logging.INFO, stream=sys.stdout,
                        format="%(asctime)s service=orchestrator %(levelname)s %(message)s")
    logging.getLogger("kafka").setLevel(logging.WARNING)
    try:
        from deeperfour.orchestrator.app import build_app

        build_app().run()
    except DeeperFourError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
