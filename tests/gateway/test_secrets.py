"""Secret values never show in repr/str/format or any log record."""

from __future__ import annotations

import io
import json
import logging
import pickle

import pytest

from gateway.logs import JsonFormatter
from gateway.secrets import MASK, Secret, SecretMaskingFilter


def test_secret_never_prints() -> None:
    s = Secret("AKIA-very-secret")
    assert repr(s) == str(s) == f"{s}" == f"{s!r}" == MASK
    assert "very-secret" not in repr({"key": s}) and "very-secret" not in repr([s])
    assert s.reveal() == "AKIA-very-secret"
    with pytest.raises(TypeError):
        pickle.dumps(s)


def _logger(secret: Secret) -> tuple[logging.Logger, io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(SecretMaskingFilter([secret]))
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger(f"test.secrets.{id(stream)}")
    logger.handlers = [handler]
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    return logger, stream


def test_filter_masks_values_in_messages_args_extras_and_tracebacks() -> None:
    secret = Secret("tok-123456:ABCDEF")
    logger, stream = _logger(secret)
    logger.info("url https://api.telegram.org/bot%s/sendMessage", secret.reveal())
    logger.warning("body %r", {"secret": secret.reveal()}, extra={"sv_body": secret.reveal()})
    try:
        raise ValueError(f"bad auth {secret.reveal()}")
    except ValueError:
        logger.exception("failed")
    text = stream.getvalue()
    assert "ABCDEF" not in text
    assert text.count(MASK) >= 4
    lines = [json.loads(x) for x in text.splitlines()]
    assert lines[1]["body"] == MASK


def test_short_values_are_not_masked_to_avoid_mangling_words() -> None:
    mask = SecretMaskingFilter([Secret("a")])
    assert mask.mask("a cat") == "a cat"
