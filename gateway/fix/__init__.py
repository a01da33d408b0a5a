"""FIX 4.2 / 4.4 engine (SPEC §11): codec, dictionary, sans-I/O session, transport.

See docs/fix.md. Entry points: ``python -m gateway.fix.acceptor`` and
``python -m gateway.fix.deftest``.
"""
