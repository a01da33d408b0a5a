"""Where the prime broker's FIX session is and how to keep it (validated at load)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.errors import BadInput
from gateway.secrets import Secret

FIX_VERSIONS = ("FIX.4.4",)


@dataclass(frozen=True)
class PrimeFixSettings:
    """Where the prime broker's FIX session is and how to keep it.

    ``store_path`` must survive restarts (the session resumes from it);
    ``opening_positions``/``opening_cash`` are the start-of-day statement.
    """

    host: str
    port: int
    sender_comp_id: str
    target_comp_id: str
    store_path: Path
    begin_string: str = "FIX.4.4"
    heartbeat_s: int = 30
    account: str | None = None
    opening_cash: int = 0
    opening_positions: tuple[tuple[str, int], ...] = ()
    ack_timeout_s: float = 2.0
    request_timeout_s: float = 5.0
    min_backoff_s: float = 0.25
    max_backoff_s: float = 30.0
    username: str = ""  # Username(553) in our Logon; empty: none
    password: Secret = field(default_factory=lambda: Secret(""))  # Password(554)

    def __post_init__(self) -> None:
        if not self.host:
            raise BadInput("fix.host", self.host, "must not be empty")
        if not 1 <= self.port <= 65535:
            raise BadInput("fix.port", self.port, "must be in 1..65535")
        for name in ("sender_comp_id", "target_comp_id"):
            if not getattr(self, name):
                raise BadInput(f"fix.{name}", getattr(self, name), "must not be empty")
        if self.begin_string not in FIX_VERSIONS:
            raise BadInput(
                "fix.begin_string", self.begin_string, f"must be one of {', '.join(FIX_VERSIONS)}"
            )
        if not 1 <= self.heartbeat_s <= 3600:
            raise BadInput("fix.heartbeat_interval", self.heartbeat_s, "must be in 1..3600")

    @classmethod
    def from_config(cls, fix: Any, store_path: Path, **overrides: Any) -> PrimeFixSettings:
        """From ``gateway.config.FixConfig`` (host, port, CompIDs, version, heartbeat)."""
        return cls(
            host=fix.host,
            port=fix.port,
            sender_comp_id=fix.sender_comp_id,
            target_comp_id=fix.target_comp_id,
            store_path=Path(store_path),
            begin_string=fix.begin_string,
            heartbeat_s=fix.heartbeat_interval,
            username=getattr(fix, "username", ""),
            password=getattr(fix, "password", Secret("")),
            **overrides,
        )
