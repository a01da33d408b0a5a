"""``python -m fix.acceptor --port PORT``: the acceptance-suite acceptor.

Configured as the QuickFIX server suite expects: SenderCompID ISLD; sessions
TW42 (FIX.4.2), TW44, TW and NO_CHECK_FIELDS_HAVE_VALUES (FIX.4.4, the last
one accepting empty values); sequence numbers reset on every Logon; the echo
application. Serves until SIGINT/SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import signal
import ssl
import sys

from fix.acceptance.echo import EchoApplication, FillApplication
from fix.router import AcceptorRouter
from fix.session import Session, SessionConfig, SessionEvent
from fix.store import MemoryStore, MessageStore, SqliteStore, scratch_store_path
from fix.transport import FixAcceptor

SENDER = "ISLD"
SESSIONS = (
    ("FIX.4.2", "TW42", True),
    ("FIX.4.4", "TW44", True),
    ("FIX.4.4", "TW", True),
    ("FIX.4.4", "NO_CHECK_FIELDS_HAVE_VALUES", False),
)


def build_router(
    store_path: str | None = None,
    logout_timeout_s: float = 2.0,
    app_name: str = "echo",
    *,
    memory_store: bool = False,
) -> AcceptorRouter:
    """The four acceptance sessions behind one router, sharing one application.

    ``echo`` is the acceptance-suite application; ``fill`` answers every
    NewOrderSingle with a full-fill ExecutionReport (round-trip benchmarks).
    The sessions' sent messages live in SQLite (``store_path``, or a scratch
    file per session removed at exit), not in memory; ``memory_store`` is for
    tests.
    """
    app = EchoApplication() if app_name == "echo" else FillApplication()
    sessions = []
    for begin, target, check_values in SESSIONS:
        config = SessionConfig(
            begin_string=begin,
            sender_comp_id=SENDER,
            target_comp_id=target,
            initiator=False,
            reset_on_logon=True,
            check_fields_have_values=check_values,
            logout_timeout_s=logout_timeout_s,
        )
        store: MessageStore
        if memory_store:
            store = MemoryStore()
        elif store_path is None:  # a scratch file per session: see SqliteStore(durable=False)
            store = SqliteStore(scratch_store_path("fix-acceptor-"), config.key, durable=False)
        else:
            store = SqliteStore(store_path, config.key)
        sessions.append(Session(config, store, app))
    return AcceptorRouter(sessions)


def _parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m fix.acceptor", description=__doc__)
    parser.add_argument("--port", type=int, required=True, help="TCP port (0 = any free port)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument(
        "--store",
        default=None,
        help="SQLite file for sequence numbers and sent messages (default: a scratch file"
        " removed at exit)",
    )
    parser.add_argument("--certfile", default=None, help="serve TLS with this certificate")
    parser.add_argument("--keyfile", default=None)
    parser.add_argument("--verbose", action="store_true", help="print session events")
    parser.add_argument("--app", choices=("echo", "fill"), default="echo")
    args = parser.parse_args(argv)
    if not 0 <= args.port <= 65535:
        parser.error(f"--port={args.port}: must be 0..65535")
    return args


async def _serve(args: argparse.Namespace) -> None:
    context = None
    if args.certfile:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(args.certfile, args.keyfile)

    def on_event(event: SessionEvent) -> None:
        if args.verbose:
            print(f"{event.time_ns} {event.kind}: {event.text}", flush=True)

    acceptor = FixAcceptor(
        build_router(args.store, app_name=args.app), args.host, args.port, context, None, on_event
    )
    port = await acceptor.start()
    # The dictionaries are thousands of long-lived objects: move them out of
    # the cyclic collector's view so its pauses stay short under traffic.
    gc.freeze()
    print(f"listening on {args.host}:{port}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await acceptor.stop()


def main(argv: list[str] | None = None) -> int:
    asyncio.run(_serve(_parse_args(sys.argv[1:] if argv is None else argv)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
