"""Local, protocol-faithful stand-ins for the outside services Sovereign talks to.

``python -m standins`` runs them: Alpaca's trading REST API, its market-data
and trade-updates websockets, and the Telegram Bot API, all backed by one
simulated market that plays in (accelerated) real time. They exist so the
gateway can be tested end to end, and tried without an account, with the
unmodified ``alpaca-py`` clients pointed at them by URL.

This package is the imperative shell around the deterministic simulator: it
reads a wall clock and runs an event loop, which ``core/`` and ``sim/`` must
never do, so it lives apart from them and only borrows their pure parts
(the scenario market and the venue fill model).
"""
