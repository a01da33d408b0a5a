"""Structured logs: JSON lines to a file for machines, short lines on stderr for people.

Both handlers carry the ``SecretMaskingFilter``: credentials are masked in
every record from every logger (ours, alpaca-py's, aiohttp's, websockets').
Extra fields whose names start with ``sv_`` become JSON keys (without the
prefix), so a log line can be filtered by event kind without parsing text.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

from gateway.files import private_file
from gateway.secrets import Secret, SecretMaskingFilter


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, object] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for name, value in record.__dict__.items():
            if name.startswith("sv_"):
                data[name[3:]] = value
        if record.exc_text:
            data["exc"] = record.exc_text
        elif record.exc_info:
            data["exc"] = self.formatException(record.exc_info)
        return json.dumps(data, default=str, ensure_ascii=False)


def setup_logging(
    level: str, log_file: Path | None, secrets: list[Secret], *, stderr: bool = True
) -> SecretMaskingFilter:
    mask = SecretMaskingFilter(secrets)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.setLevel(logging.DEBUG)
    numeric = getattr(logging, level.upper(), logging.INFO)
    if log_file is not None:
        private_file(log_file)  # folder 0700, file 0600 before the handler opens it
        handler: logging.Handler = logging.FileHandler(log_file, encoding="utf-8")
        handler.setLevel(numeric)
        handler.addFilter(mask)
        handler.setFormatter(JsonFormatter())
        root.addHandler(handler)
    if stderr:
        console = logging.StreamHandler()
        console.setLevel(numeric)
        console.addFilter(mask)
        console.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
        root.addHandler(console)
    # Libraries chatter at INFO/DEBUG (every websocket frame); keep them at WARNING
    # unless the operator asked for debug.
    for noisy in ("websockets", "urllib3", "asyncio", "aiohttp.access"):
        logging.getLogger(noisy).setLevel(
            logging.DEBUG if numeric <= logging.DEBUG else logging.WARNING
        )
    return mask
