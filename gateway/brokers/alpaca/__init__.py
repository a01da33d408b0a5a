"""Alpaca through ``alpaca-py`` (REST + websockets), as a package of one job per module.

``broker`` (the ``Broker``), ``mapping`` (wire ↔ core, pure), ``rest``
(thread pool, back-off on 429, transport failures), ``streams`` (the
websockets' raw handlers). The names below are the package's public face.
"""

from gateway.brokers.alpaca.broker import AlpacaBroker
from gateway.brokers.alpaca.mapping import (
    ACTIVITIES_PAGE,
    CASH_ACTIVITY_TYPES,
    OPEN_STATUSES,
    bar_from_model,
    bar_from_raw,
    cash_flow_from_raw,
    decimal_text,
    order_from_model,
    position_quantity,
    to_decimal,
    to_ns,
    to_price,
    to_quantity,
    trade_event_from_model,
    trade_event_from_raw,
)
from gateway.brokers.alpaca.rest import REST_TIMEOUT_S, TransportFailure, transport_failure

__all__ = [
    "ACTIVITIES_PAGE",
    "CASH_ACTIVITY_TYPES",
    "OPEN_STATUSES",
    "REST_TIMEOUT_S",
    "AlpacaBroker",
    "TransportFailure",
    "bar_from_model",
    "bar_from_raw",
    "cash_flow_from_raw",
    "decimal_text",
    "order_from_model",
    "position_quantity",
    "to_decimal",
    "to_ns",
    "to_price",
    "to_quantity",
    "trade_event_from_model",
    "trade_event_from_raw",
    "transport_failure",
]
