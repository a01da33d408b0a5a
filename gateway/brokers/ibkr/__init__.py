"""Interactive Brokers through ``ib_async`` (docs/ibkr.md), one job per module:

* ``mapping``: IB ↔ core types (prices, orders, statuses, executions, hours), pure;
* ``pacing``: the historical-data pacer and the 5-second → minute bar aggregator;
* ``broker``: ``IbkrBroker``, the ``Broker`` protocol over one TWS connection.
"""

from gateway.brokers.ibkr.broker import IbkrBroker

__all__ = ["IbkrBroker"]
