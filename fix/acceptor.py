"""``python -m fix.acceptor``: the acceptance-suite acceptor (``fix.acceptance.acceptor``).

The command keeps a short name; the code lives with the rest of the acceptance
tooling so the engine's own modules stay free of test fixtures.
"""

from fix.acceptance.acceptor import main

if __name__ == "__main__":
    raise SystemExit(main())
