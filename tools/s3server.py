"""The local stack's object storage: moto's S3 API, with its control API closed (`make up`, the test fixtures).

    python -m tools.s3server --port 9000 [--host 127.0.0.1]

Two differences from a bare `moto_server`: `/moto-api/` (which dumps every object and credential, and resets the
server) answers 403 to everyone, and so does an unsigned request (moto would fail on it with a 500). moto checks
request signatures against its IAM users once its first INITIAL_NO_AUTH_ACTION_COUNT actions are spent; tools.stack
sets that count to the calls that create the stack's own user and access key, so every later request needs that key.

Lighter than `moto_server` per request (profiled: moto re-lists its own package folder for every request to find the
service a host names, a fifth of its CPU time per request): the service of each host is looked up once, and only
server errors are logged, not every request.
"""

from __future__ import annotations

import argparse
import functools
import os
import signal
import sys

CONTROL_API = "/moto-api"


def guarded(app):
    """WSGI middleware: refuse moto's control API and unsigned requests, pass everything else through."""

    def wrapped(environ, start_response):
        if environ.get("PATH_INFO", "").startswith(CONTROL_API):
            return _forbidden(start_response, b"the control API of this S3 server is closed\n")
        signed = "HTTP_AUTHORIZATION" in environ or "X-Amz-Signature" in environ.get("QUERY_STRING", "")
        if not signed:
            return _forbidden(start_response, b"AccessDenied: this S3 server needs signed requests\n")
        return app(environ, start_response)

    return wrapped


def _forbidden(start_response, text: bytes) -> list[bytes]:
    start_response("403 Forbidden", [("Content-Type", "text/plain"), ("Content-Length", str(len(text)))])
    return [text]


def moto_app():
    """moto's WSGI application, with the service of each host looked up once."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    class Dispatcher(DomainDispatcherApplication):
        @functools.cache  # noqa: B019 - one instance per server process
        def get_backend_for_host(self, host):
            return super().get_backend_for_host(host)

    return Dispatcher(create_backend_app)


def request_handler():
    """moto's request handler, logging server errors only: a line per request costs CPU at every chunk."""
    from moto.moto_server.werkzeug_app import MotoRequestHandler

    class Handler(MotoRequestHandler):
        def log_request(self, code="-", size="-"):
            if isinstance(code, int) and code >= 500:
                super().log_request(code, size)

    return Handler


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.s3server")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)

    from werkzeug.serving import run_simple

    os.environ.setdefault("MOTO_PORT", str(args.port))  # as moto_server does: moto builds some URLs with it
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    run_simple(args.host, args.port, guarded(moto_app()), threaded=True, request_handler=request_handler())
    return 0


if __name__ == "__main__":
    sys.exit(main())
