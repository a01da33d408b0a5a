"""FIX 4.2 / 4.4 engine (SPEC §11): codec, dictionary, sans-I/O session, store, transport.

A library both shells use: the gateway's prime-broker adapter (initiator) and
the stand-ins' prime broker (acceptor). It imports ``core`` only, never a
shell. See docs/fix.md. Entry points: ``python -m fix.acceptor`` and
``python -m fix.deftest`` (code in ``fix/acceptance/``).
"""
