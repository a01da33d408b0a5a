"""A TWS API socket server (the stand-in for Trader Workstation / IB Gateway).

The unmodified ``ib_async`` client connects to it as it would to a paper TWS:
``protocol`` frames and encodes the wire (server version 178), ``book`` is the
IB account over the shared simulated venues, ``server`` answers the requests
the gateway makes and pushes orders, executions, positions and bars.
"""
