"""The one logging setup: JSON lines on stdout for the services (one object per record, with the service's name),
plain text on stderr for the command line."""

from __future__ import annotations

import json
import logging
import sys
import time


class JsonLines(logging.Formatter):
    def __init__(self, service: str):
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "service": self.service,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def setup(service: str | None = None, level: int = logging.INFO) -> None:
    """`service`: JSON lines on stdout tagged with it; None (the CLI): `deeperfour: message` lines on stderr, warnings
    and errors only, unless the embedding program (or a test runner) configured logging already."""
    if service is None:
        logging.basicConfig(level=logging.WARNING, format="deeperfour: %(message)s")
    else:
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(JsonLines(service))
        logging.getLogger().handlers[:] = [handler]
        logging.getLogger().setLevel(level)
    logging.getLogger("kafka").setLevel(logging.WARNING)  # kafka-python narrates every connection at INFO
