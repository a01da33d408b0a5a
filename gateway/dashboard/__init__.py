"""The live dashboard of a running gateway (docs/dashboard.md).

``Dashboard`` wires the parts to a ``Gateway``: the history watches the input
pipeline and the alerts, the hub fans messages out to the pages, the server
answers HTTP. Everything runs on the gateway's event loop and none of it can
make trading wait: observers append, publishing appends, slow pages are
dropped.
"""

from __future__ import annotations

from typing import Any

from gateway.dashboard.history import ALERTS_KEPT, History
from gateway.dashboard.hub import Hub
from gateway.dashboard.server import DashboardServer, Operate
from gateway.dashboard.snapshot import GatewayView
from gateway.secrets import Secret


class Dashboard:
    def __init__(self, gateway: Any, token: Secret, operate: Operate) -> None:
        view: GatewayView = gateway
        self.config = gateway.config.dashboard
        self.history = History(list(gateway.state.symbols), gateway.engine)
        self.hub = Hub()
        self.history.publish = self.hub.publish
        gateway.inputs.observers.append(self.history.on_input)
        gateway.alerts.listeners.append(self.history.on_alert)
        self.history.load_alerts(gateway.storage.records.recent_alerts(ALERTS_KEPT))
        self.server = DashboardServer(
            view, self.history, self.hub, token, operate, gateway.storage.booked.executions_after
        )

    async def start(self) -> None:
        """Listen (after the start-up replay, so the history is complete)."""
        await self.server.start(self.config.host, self.config.port)

    async def stop(self) -> None:
        await self.server.stop()

    @property
    def url(self) -> str:
        return self.server.url


__all__ = ["Dashboard"]
