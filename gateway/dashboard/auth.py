"""Who may see the dashboard and press its buttons.

* **The token.** From ``[dashboard] token`` or ``$SOVEREIGN_DASHBOARD_TOKEN``;
  otherwise the one in ``token_file``, which the first start creates (256
  random bits, mode 0600, never logged). Compared in constant time.
* **Two ways in.** ``Authorization: Bearer TOKEN`` (scripts, the CLI), or
  ``GET /login?token=TOKEN``, which trades the token for a random session id
  in an HttpOnly, SameSite=Strict cookie and redirects to ``/``.
* **CSRF.** A cookie is sent by the browser on its own, so every POST made
  with a cookie must also carry the session's CSRF token in ``X-CSRF-Token``
  (the page reads it from a ``<meta>`` tag) and, when the browser sends one,
  an ``Origin`` equal to the dashboard's own. A bearer token is never sent
  implicitly, so bearer POSTs need neither.
* **Guessing is slow.** Failed attempts are counted per client address in a
  sliding minute; past the limit every request of that address without a
  valid session gets 429 (with ``Retry-After``) until the window clears.
"""

from __future__ import annotations

import hmac
import logging
import os
import secrets
import stat
import time
from collections import deque
from dataclasses import dataclass, field

from core.errors import BadInput
from gateway.config import ENV_DASHBOARD_TOKEN, DashboardConfig
from gateway.files import private_dir
from gateway.secrets import Secret

log = logging.getLogger("gateway.dashboard")

SESSION_COOKIE = "sv_session"
SESSION_TTL_S = 12 * 3600.0
MAX_SESSIONS = 64
FAILURES_PER_MINUTE = 20


def resolve_token(config: DashboardConfig) -> tuple[Secret, str]:
    """The dashboard token and where it came from (``config``/``env`` are already
    merged by the config loader; else the token file, created if missing)."""
    if config.token:
        return config.token, "config" if not os.environ.get(ENV_DASHBOARD_TOKEN) else "env"
    path = config.token_file
    try:
        text = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        text = ""
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInput("dashboard.token_file", str(path), f"cannot be read: {exc}") from None
    if text:
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            os.chmod(path, 0o600)
            log.warning("%s was readable by group/others (mode %o): made owner-only", path, mode)
        if len(text) < 16:
            raise BadInput("dashboard.token_file", str(path), "holds a token shorter than 16")
        return Secret(text), "file"
    token = secrets.token_urlsafe(32)
    private_dir(path.parent)  # a folder it makes is 0700, whatever the umask
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # an empty file someone made: replace it, owner-only
        os.chmod(path, 0o600)
        fd = os.open(path, os.O_WRONLY | os.O_TRUNC)
    except OSError as exc:
        raise BadInput("dashboard.token_file", str(path), f"cannot be written: {exc}") from None
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(token + "\n")
    log.info("dashboard token generated in %s (owner-only)", path)
    return Secret(token), "generated"


def token_matches(candidate: str, token: Secret) -> bool:
    """Constant-time comparison (a timing side channel must not spell the token)."""
    return hmac.compare_digest(candidate.encode("utf-8", "replace"), token.reveal().encode())


def bearer(header: str | None) -> str | None:
    """The token of an ``Authorization: Bearer ...`` header, if that is what it is."""
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


@dataclass
class Session:
    csrf: str
    expires: float


class Sessions:
    """Browser sessions: random ids → CSRF token and expiry, in memory only (a
    restart logs every browser out; the token logs it back in)."""

    def __init__(self, ttl_s: float = SESSION_TTL_S, limit: int = MAX_SESSIONS) -> None:
        self._ttl = ttl_s
        self._limit = limit
        self._sessions: dict[str, Session] = {}

    def create(self) -> tuple[str, Session]:
        self._expire()
        while len(self._sessions) >= self._limit:  # the oldest goes first
            oldest = min(self._sessions, key=lambda k: self._sessions[k].expires)
            del self._sessions[oldest]
        session_id = secrets.token_urlsafe(32)
        session = Session(secrets.token_urlsafe(32), time.monotonic() + self._ttl)
        self._sessions[session_id] = session
        return session_id, session

    def get(self, session_id: str | None) -> Session | None:
        if not session_id:
            return None
        session = self._sessions.get(session_id)
        if session is None:
            return None
        if session.expires < time.monotonic():
            del self._sessions[session_id]
            return None
        return session

    def _expire(self) -> None:
        now = time.monotonic()
        for key in [k for k, s in self._sessions.items() if s.expires < now]:
            del self._sessions[key]

    def __len__(self) -> int:
        return len(self._sessions)


@dataclass
class FailureLimiter:
    """Failed authentications per client address in a sliding window."""

    limit: int = FAILURES_PER_MINUTE
    window_s: float = 60.0
    _failures: dict[str, deque[float]] = field(default_factory=dict)

    def _recent(self, key: str, now: float) -> deque[float]:
        failures = self._failures.get(key)
        if failures is None:
            if len(self._failures) > 10_000:  # a flood of addresses: forget the idle
                self._failures = {k: v for k, v in self._failures.items() if v}
            failures = self._failures[key] = deque()
        while failures and failures[0] <= now - self.window_s:
            failures.popleft()
        return failures

    def blocked_for(self, key: str) -> float:
        """Seconds until this address may try again (0: it may now)."""
        now = time.monotonic()
        failures = self._recent(key, now)
        if len(failures) < self.limit:
            return 0.0
        return max(0.0, failures[-self.limit] + self.window_s - now)

    def fail(self, key: str) -> None:
        now = time.monotonic()
        failures = self._recent(key, now)
        failures.append(now)
        while len(failures) > self.limit * 2:
            failures.popleft()


@dataclass
class CommandLimiter:
    """Operator commands accepted per sliding window, for everyone together: a
    flood of POSTs (a stuck key, a script in a loop) gets 429s, and the engine
    and Telegram see at most ``limit`` commands in ``window_s``."""

    limit: int = 10
    window_s: float = 10.0
    _times: deque[float] = field(default_factory=deque)

    def allow(self) -> float:
        """0 if a command may go now (and counts it); else seconds to wait."""
        now = time.monotonic()
        while self._times and self._times[0] <= now - self.window_s:
            self._times.popleft()
        if len(self._times) >= self.limit:
            return self._times[0] + self.window_s - now
        self._times.append(now)
        return 0.0


def same_origin(origin: str | None, host: str | None, scheme: str = "http") -> bool:
    """An ``Origin`` header, if the browser sent one, must be the dashboard's own."""
    if origin is None:
        return True
    return host is not None and origin == f"{scheme}://{host}"
