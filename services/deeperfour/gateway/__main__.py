"""`python -m deeperfour.gateway`: settings from DEEPERFOUR_* env vars (see services/gateway/USAGE.md)."""

import logging
import signal
import sys

from deeperfour import logs, settings
from deeperfour.errors import DeeperFourError


def main() -> int:
    settings.prefer_sleeping_threads()
    logs.setup("gateway")
    try:
        gateway = settings.load().gateway
        from deeperfour.gateway.server import build_server

        server, port = build_server()
    except DeeperFourError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    server.start()
    logging.getLogger("deeperfour.gateway").info(
        "serving deeperfour.v1.JobsService on %s:%d (%s)",
        gateway.bind_address,
        port,
        "TLS" if gateway.tls_cert else "plaintext",
    )
    signal.signal(signal.SIGTERM, lambda *_: server.stop(grace=10))
    server.wait_for_termination()
    return 0


if __name__ == "__main__":
    sys.exit(main())
