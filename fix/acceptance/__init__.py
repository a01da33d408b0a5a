"""Acceptance tooling for the FIX engine, not used by the product at run time.

``acceptor`` (the four-session acceptor the QuickFIX suite plays against, run as
``python -m fix.acceptor``), ``deftest`` (the ``.def`` file runner, ``python -m
fix.deftest``) and ``echo`` (the echo / fill applications behind the acceptor).
"""
