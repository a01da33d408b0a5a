"""Interactive Brokers through ``ib_async`` (docs/ibkr.md), one job per module
(as NautilusTrader's ``adapters/interactive_brokers`` splits client, parsing,
data and execution):

* ``mapping``: IB ↔ core types (prices, orders, statuses, executions, hours), pure;
* ``pacing``: the historical-data pacer and the 5-second → minute bar aggregator;
* ``history``: historical minute bars, paced and chunked;
* ``realtime``: live 5-second bars aggregated to minutes; the market time they show;
* ``executions``: fills with their commissions, each exec id once, replays;
* ``statuses``: order statuses → order updates, and ``submit``'s first answer;
* ``decoding``: messages ``ib_async`` cannot decode, as our bad input;
* ``broker``: ``IbkrBroker``, the ``Broker`` protocol over one TWS connection.
"""

from gateway.brokers.ibkr.broker import IbkrBroker

__all__ = ["IbkrBroker"]
