"""The prime broker over FIX (docs/prime_fix.md), one job per module:

* ``settings``: ``PrimeFixSettings``, where the session is and how to keep it;
* ``ledger``: what is known of each order; the processed mark and where it is kept;
* ``chains``: ClOrdID chains from the session store, fills per ClOrdID, status views;
* ``reports``: ExecutionReports and cancel rejects → trade events (pure);
* ``held``: a status answer while reports are still held for the runtime;
* ``positions``: the adapter's own positions and cash ledger;
* ``mapping``: typed tag readers, stored executions → ``Fill``, event levels;
* ``broker``: ``PrimeFixBroker``, the session and the order half of ``Broker``.
"""

from gateway.brokers.prime_fix.broker import PrimeFixBroker
from gateway.brokers.prime_fix.mapping import fill_from_record
from gateway.brokers.prime_fix.settings import PrimeFixSettings

__all__ = ["PrimeFixBroker", "PrimeFixSettings", "fill_from_record"]
