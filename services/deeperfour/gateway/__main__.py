"""`python -m deeperfour.gateway`: settings from DEEPERFOUR_* env vars (see services/gateway/USAGE.md)."""

import logging
import signal
import sys

from deeperfour.errors import DeeperFourError


def main() -> int:
    logging.basicConfig(level=logging.INFO, stream=sys.stdout,
                        format="%(asctime)s service=gateway %(levelname)s %(message)s")
    logging.getLogger("kafka").setLevel(logging.WARNING)
    try:
        from deeperfour.gateway.server import build_server

        server, port = build_server()
    except DeeperFourError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    server.start()
    logging.getLogger("deeperfour.gateway").info("serving deeperfour.v1.JobsService on port %d", port)
    signal.signal(signal.SIGTERM, lambda *_: server.stop(grace=10))
    server.wait_for_termination()
    return 0


if __name__ == "__main__":
    sys.exit(main())
