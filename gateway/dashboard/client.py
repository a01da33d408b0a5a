"""``python -m gateway pause|resume|flatten --config F``: an operator command to
the running gateway, without a browser.

It goes through the dashboard's own authenticated API (``POST /api/control``
with ``Authorization: Bearer TOKEN``) on the configured host and port, so a
command from a shell takes exactly the path a button press takes: the same
checks, the same rate limit, the same record, journal entry and alert. The
token is the gateway's: ``[dashboard] token``, ``$SOVEREIGN_DASHBOARD_TOKEN``
or the token file the gateway made at its first start (never created here).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from core.errors import BadInput
from gateway.config import Config
from gateway.secrets import Secret

TIMEOUT_S = 15.0


def read_token(config: Config) -> Secret:
    dashboard = config.dashboard
    if dashboard.token:
        return dashboard.token
    path = dashboard.token_file
    try:
        text = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        raise BadInput(
            "dashboard.token_file",
            str(path),
            "does not exist: start the gateway once (it creates it) or set [dashboard] token",
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInput("dashboard.token_file", str(path), f"cannot be read: {exc}") from None
    if not text:
        raise BadInput("dashboard.token_file", str(path), "is empty")
    return Secret(text)


def control_url(config: Config) -> str:
    host = config.dashboard.host
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{config.dashboard.port}/api/control"


class Unreachable(Exception):
    """The gateway did not answer (not running, or not with this config)."""


class Refused(Exception):
    """The gateway answered with an error (its message says why)."""


def send(config: Config, action: str) -> dict[str, Any]:
    """POST the command; the gateway's answer (raises ``Unreachable``/``Refused``)."""
    if not config.dashboard.enabled:
        raise BadInput(
            "dashboard.enabled",
            False,
            "operator commands reach the running gateway through the dashboard's API:"
            " enable [dashboard] (it listens on 127.0.0.1 by default)",
        )
    token = read_token(config)
    url = control_url(config)
    request = urllib.request.Request(
        url,
        data=json.dumps({"action": action, "origin": "cli"}).encode(),
        headers={
            "Content-Type": "application/json",
            "Authorization": f"Bearer {token.reveal()}",
        },
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
            return dict(json.loads(response.read()))
    except urllib.error.HTTPError as exc:
        try:
            message = json.loads(exc.read()).get("error", exc.reason)
        except ValueError:
            message = exc.reason
        raise Refused(f"HTTP {exc.code}: {message}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise Unreachable(
            f"no gateway answered at {url} ({reason}): is it running with this config?"
        ) from None
