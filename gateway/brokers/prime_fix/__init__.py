"""The prime broker over FIX (docs/prime_fix.md), one job per module:

* ``settings``: ``PrimeFixSettings``, where the session is and how to keep it;
* ``ledger``: each order's ClOrdID chain and fills; the processed mark;
* ``mapping``: typed tag readers, stored executions → ``Fill``, event levels;
* ``broker``: ``PrimeFixBroker``, the order half of the ``Broker`` protocol.
"""

from gateway.brokers.prime_fix.broker import PrimeFixBroker
from gateway.brokers.prime_fix.mapping import fill_from_record
from gateway.brokers.prime_fix.settings import PrimeFixSettings

__all__ = ["PrimeFixBroker", "PrimeFixSettings", "fill_from_record"]
