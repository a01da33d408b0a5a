"""``python -m fix.deftest``: the ``.def`` acceptance runner (``fix.acceptance.deftest``).

The command keeps a short name; the code lives with the rest of the acceptance
tooling so the engine's own modules stay free of test fixtures.
"""

from fix.acceptance.deftest import main

if __name__ == "__main__":
    raise SystemExit(main())
