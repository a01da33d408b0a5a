"""What the broker should have charged: the model's estimate beside the report.

Every execution the gateway books carries the fee the broker reported (IBKR's
``commissionReport``, FIX tag 12 Commission; Alpaca reports none per fill, so
its fills book 0 while the model adds the SEC and FINRA fees on sells). The
estimator prices the same execution with the commission schedule the
simulator charges (``core/execution/commissions.json``), so a schedule that
drifted from the broker's statement shows up row by row
(``executions.model_fee``) and per parent in the TCA (``broker_fees`` vs
``model_fees``).

Which schedule: ``alpaca`` for Alpaca, ``ibkr_pro_fixed`` for IBKR, ``prime``
for the FIX prime broker; a ``tiered`` account uses the schedule of its tier
at the time of the fill (``broker_for_equity``). Commission minimums and caps
are per order (``FeeModel``), so the running totals are kept per engine order
(its first id, which a replace keeps) and rebuilt from the executions table
after a restart. Venue fees, for schedules that pass them through, are the
venue's take fee: the gateway cannot tell maker from taker, and the take fee
is the conservative estimate.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from core.cells import as_int
from core.commands import Fill, Side
from core.execution.commissions import FeeModel, broker_for_equity, fee_model
from core.execution.venues import default_venues

SCHEDULES = {"alpaca": "alpaca", "ibkr": "ibkr_pro_fixed", "fix": "prime"}


class FeeEstimator:
    """One account's fee model over the executions it books, in booking order."""

    def __init__(self, broker_type: str, equity: Callable[[], int] | None = None) -> None:
        self._broker_type = broker_type
        self._equity = equity
        self._models: dict[str, FeeModel] = {}
        self._take_fee = {v.name: v.take_fee for v in default_venues()}

    def schedule(self) -> str:
        fixed = SCHEDULES.get(self._broker_type)
        if fixed is not None:
            return fixed
        return broker_for_equity(self._equity() if self._equity is not None else 0)

    def estimate(self, order_key: str, fill: Fill, decimals: int = 0) -> int:
        """The model's fee of ``fill`` (nano-units), counted into its order's totals."""
        name = self.schedule()
        model = self._models.get(name)
        if model is None:
            model = self._models[name] = fee_model(name)
        venue_fee = self._take_fee.get(fill.venue, 0) * fill.quantity
        return model.charge(order_key, fill.side, fill.quantity, fill.price, venue_fee, decimals)

    def restore(self, rows: Iterable[Mapping[str, object]], key: Callable[[str], str]) -> None:
        """Rebuild the per-order totals from stored executions (oldest first)."""
        for row in rows:
            cid = str(row["client_order_id"])
            side = Side(str(row["side"]))
            fill = Fill(
                as_int(row["time_ns"]),
                cid,
                str(row["exec_id"]),
                str(row["symbol"]),
                side,
                as_int(row["quantity"]),
                as_int(row["price"]),
                str(row.get("venue") or ""),
            )
            self.estimate(key(cid), fill)


__all__ = ["SCHEDULES", "FeeEstimator"]
