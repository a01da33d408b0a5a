"""FIX prime-broker stand-in: an acceptor with dark pools and lit venues behind it.

``book`` (orders, positions, cash over ``sim.venues.VenueSimulator``), ``app``
(FIX 4.4 messages ↔ the book) and ``server`` (the acceptor on the stand-in's
simulated market and clock, started by ``python -m standins``).
"""
