// Sovereign dashboard: one EventSource, no polling. Every text from the server
// goes into the page through textContent (never innerHTML), so an alert text
// or a symbol cannot inject markup.
"use strict";

(function () {
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const MAX_FILLS = 500;
  const MAX_ALERTS = 300;
  const MAX_BARS = 600;
  const CHART_EVERY_MS = 1000;

  const view = {
    state: null,
    symbols: [],
    symbol: null,
    bars: {}, // symbol -> [[t, o, h, l, c, v], ...]
    fills: [], // newest last
    equity: { session: [], history: [] },
    chartDirty: true,
    equityDirty: true,
    lastChart: 0,
  };

  const $ = (id) => document.getElementById(id);

  function el(tag, text, cls) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (cls) node.className = cls;
    return node;
  }

  function row(cells, attrs) {
    const tr = document.createElement("tr");
    for (const cell of cells) {
      const td = el("td", cell === null || cell === undefined ? "" : cell);
      tr.appendChild(td);
    }
    for (const [k, v] of Object.entries(attrs || {})) tr.dataset[k] = v;
    return tr;
  }

  function signed(td, value) {
    const n = Number(value);
    if (n > 0) td.classList.add("pos");
    if (n < 0) td.classList.add("neg");
  }

  function time(ms) {
    if (ms === null || ms === undefined) return "";
    return new Date(ms).toISOString().replace("T", " ").slice(0, 19);
  }

  // ------------------------------------------------------------ state
  function renderState(s) {
    view.state = s;
    document.body.dataset.paused = String(s.paused);
    $("broker").textContent = s.broker;
    $("clock").textContent = time(s.market_time) + " (x" + s.speed + ")";
    const status = $("status");
    status.className = "badge " + (s.paused ? "paused" : "ok");
    status.textContent = s.paused ? "ENTRIES PAUSED" : s.catching_up ? "CATCHING UP" : "TRADING";
    renderAccount(s.account);
    renderPositions(s.position_details, s.account);
    renderWorking(s.working);
    renderAgents(s.agents);
    renderConnections(s.connections, s.dashboard);
    if (s.equity_now) {  // both curves end where equity is now
      for (const curve of [view.equity.session, view.equity.history]) {
        const last = curve[curve.length - 1];
        if (last && last[0] === s.equity_now[0]) last[1] = s.equity_now[1];
        else if (!last || last[0] < s.equity_now[0]) curve.push([s.equity_now[0], s.equity_now[1]]);
      }
      view.equityDirty = true;
    }
    for (const bar of s.bars || []) {
      const symbol = bar[0];
      const series = view.bars[symbol] || (view.bars[symbol] = []);
      series.push(bar.slice(1));
      if (series.length > MAX_BARS) series.splice(0, series.length - MAX_BARS);
      if (symbol === view.symbol) view.chartDirty = true;
    }
  }

  function renderAccount(a) {
    const dl = $("account");
    dl.replaceChildren();
    const items = [
      ["equity", a.equity], ["cash", a.cash], ["P&L", a.pnl], ["tier", a.tier],
      ["long", a.long_exposure], ["short", a.short_exposure], ["net", a.net_exposure],
      ["side limit", a.side_limit + " (" + a.limit_pct + "%)"],
      ["positions", a.open_positions + " / " + a.max_positions],
      ["committed", a.long_committed + " / " + a.short_committed],
    ];
    for (const [k, v] of items) {
      dl.appendChild(el("dt", k));
      const dd = el("dd", v);
      dd.id = "account-" + k.replace(/[^a-z]/gi, "").toLowerCase();
      dl.appendChild(dd);
    }
    const scale = a.limit_pct || 200;
    $("long-bar").style.width = Math.min(100, (100 * a.long_pct) / scale) + "%";
    $("short-bar").style.width = Math.min(100, (100 * a.short_pct) / scale) + "%";
    $("long-pct").textContent = a.long_pct + "% / " + scale + "%";
    $("short-pct").textContent = a.short_pct + "% / " + scale + "%";
  }

  function renderPositions(rows, a) {
    const body = $("positions").tBodies[0];
    body.replaceChildren();
    for (const p of rows) {
      const tr = row(
        [p.symbol, p.quantity, p.average_price, p.mark, p.unrealized, p.stop],
        { symbol: p.symbol, qty: String(p.quantity) },
      );
      signed(tr.children[1], p.quantity);
      signed(tr.children[4], p.unrealized);
      body.appendChild(tr);
    }
    $("positions-count").textContent = a.open_positions + " / " + a.max_positions;
  }

  function renderWorking(parents) {
    const box = $("working");
    box.replaceChildren();
    if (!parents.length) box.appendChild(el("p", "none", "muted"));
    for (const p of parents) {
      const div = el("div", null, "parent");
      div.dataset.parentId = p.parent_id;
      const head = el("div", null, "head");
      head.append(
        el("strong", p.symbol),
        el("span", p.side + " " + p.quantity + " (" + p.purpose + ", " + p.urgency + ")"),
        el("span", p.algo + " over " + p.bars + " bars"),
        el("span", "filled " + p.filled + "/" + p.quantity + ", working " + p.working_quantity),
        el("span", time(p.start) + " → " + time(p.end), "muted"),
        el("span", p.state, "muted"),
      );
      const venues = Object.entries(p.venues).map(([v, q]) => v + " " + q).join(", ");
      const bar = el("div", null, "progress");
      const fill = el("div");
      fill.style.width = (p.quantity ? (100 * p.filled) / p.quantity : 0) + "%";
      bar.appendChild(fill);
      const table = el("table");
      const tbody = el("tbody");
      for (const c of p.children) {
        tbody.appendChild(
          row([c.client_order_id, c.venue || "broker", c.type, c.limit_price, c.filled + "/" + c.quantity, c.status],
            { orderId: c.client_order_id, status: c.status }),
        );
      }
      table.appendChild(tbody);
      const slices = p.schedule.slice(0, 8).map(([t, q]) => time(t).slice(11, 16) + " " + q);
      const more = p.schedule.length > 8 ? " … (" + p.schedule.length + " slices)" : "";
      const schedule = el("div", slices.length ? "schedule (cumulative): " + slices.join(" · ") + more : "", "muted schedule");
      div.append(head, bar, schedule, el("div", venues ? "venues: " + venues : "", "muted"), table);
      box.appendChild(div);
    }
  }

  function zone(z) {
    return z ? z[0] + "–" + z[1] : "";
  }

  function renderAgents(agents) {
    const body = $("agents").tBodies[0];
    body.replaceChildren();
    for (const a of agents) {
      const last = a.last_signal;
      const signal = last ? last.signal + " (" + (last.reason || "") + ") " + time(last.time).slice(11) : "";
      const pct = a.volume_percentile === null ? "" : (100 * a.volume_percentile).toFixed(0) + "%";
      const tr = row([a.symbol, zone(a.support), zone(a.resistance), signal, pct, a.health], {
        symbol: a.symbol,
        health: a.health,
      });
      tr.children[5].className = "health-" + a.health;
      body.appendChild(tr);
    }
  }

  function renderConnections(rows, info) {
    const body = $("connections").tBodies[0];
    body.replaceChildren();
    for (const c of rows) {
      const tr = row([c.name, c.status, c.detail]);
      tr.children[1].className = c.status === "connected" || c.status === "logged on" ? "pos" : "neg";
      body.appendChild(tr);
    }
    $("dashboard-info").textContent =
      "dashboard: " + info.clients + " pages open, " + info.dropped + " dropped for not reading";
  }

  // ------------------------------------------------------------ fills
  function addFill(f, receivedMs) {
    view.fills.push(f);
    if (view.fills.length > MAX_FILLS) view.fills.shift();
    const body = $("fills").tBodies[0];
    const tr = row(
      [time(f.time).slice(5), f.symbol, f.side, f.quantity, f.price, f.fee, f.position, f.exec_id],
      { execId: f.exec_id, symbol: f.symbol, receivedMs: String(receivedMs) },
    );
    tr.children[2].className = f.side === "buy" ? "pos" : "neg";
    body.insertBefore(tr, body.firstChild);
    while (body.rows.length > MAX_FILLS) body.deleteRow(body.rows.length - 1);
    if (f.symbol === view.symbol) view.chartDirty = true;
  }

  function addTca(t) {
    const body = $("tca").tBodies[0];
    const tr = row(
      [t.parent_id, t.symbol, t.side, t.algo, t.filled + "/" + t.decided, t.average_price,
        fmt(t.arrival_slippage_bps), fmt(t.shortfall_bps), t.grade],
      { parentId: t.parent_id },
    );
    body.insertBefore(tr, body.firstChild);
    while (body.rows.length > 200) body.deleteRow(body.rows.length - 1);
  }

  function fmt(x) {
    return x === null || x === undefined ? "" : Number(x).toFixed(1);
  }

  function addAlert(a) {
    const list = $("alerts");
    const li = el("li", null, a.level);
    li.append(el("span", time(a.time).slice(5) + " ", "muted"), el("span", a.kind, "kind"), el("span", " " + a.text));
    list.insertBefore(li, list.firstChild);
    while (list.children.length > MAX_ALERTS) list.removeChild(list.lastChild);
  }

  // ----------------------------------------------------------- charts
  const layoutBase = {
    paper_bgcolor: "#161d25",
    plot_bgcolor: "#161d25",
    font: { color: "#d7dde4", size: 11 },
    margin: { l: 55, r: 10, t: 24, b: 30 },
    xaxis: { gridcolor: "#26313d", type: "date" },
    yaxis: { gridcolor: "#26313d" },
    showlegend: false,
  };
  const config = { displayModeBar: false, responsive: true, staticPlot: false };

  function drawEquity() {
    if (!window.Plotly) return;
    const curve = (points, name) => [{
      x: points.map((p) => p[0]), y: points.map((p) => p[1]), type: "scatter", mode: "lines", name,
      line: { color: "#4ea1ff", width: 1.5 },
    }];
    Plotly.react("equity-session", curve(view.equity.session, "session"),
      Object.assign({}, layoutBase, { title: { text: "this session", font: { size: 12 } } }), config);
    Plotly.react("equity-history", curve(view.equity.history, "history"),
      Object.assign({}, layoutBase, { title: { text: "all history", font: { size: 12 } } }), config);
    view.equityDirty = false;
    $("equity-session").dataset.drawn = String(Date.now());
  }

  function drawChart() {
    if (!window.Plotly || !view.symbol) return;
    const symbol = view.symbol;
    const bars = view.bars[symbol] || [];
    const x = bars.map((b) => b[0]);
    const traces = [{
      type: "candlestick", x, open: bars.map((b) => b[1]), high: bars.map((b) => b[2]),
      low: bars.map((b) => b[3]), close: bars.map((b) => b[4]), name: symbol,
      increasing: { line: { color: "#2fbf71" } }, decreasing: { line: { color: "#e5484d" } },
    }];
    const start = x.length ? x[0] : 0;
    const ours = view.fills.filter((f) => f.symbol === symbol && f.time >= start);
    for (const side of ["buy", "sell"]) {
      const mine = ours.filter((f) => f.side === side);
      traces.push({
        type: "scatter", mode: "markers", name: side, x: mine.map((f) => f.time), y: mine.map((f) => Number(f.price)),
        marker: { symbol: side === "buy" ? "triangle-up" : "triangle-down", size: 11,
          color: side === "buy" ? "#2fbf71" : "#e5484d", line: { color: "#ffffff", width: 1 } },
      });
    }
    const shapes = [];
    const agent = view.state && view.state.agents.find((a) => a.symbol === symbol);
    const zoneShape = (z, color) => ({
      type: "rect", xref: "paper", x0: 0, x1: 1, y0: Number(z[0]), y1: Number(z[1]),
      fillcolor: color, opacity: 0.25, line: { width: 0 },
    });
    if (agent && agent.support) shapes.push(zoneShape(agent.support, "#2fbf71"));
    if (agent && agent.resistance) shapes.push(zoneShape(agent.resistance, "#e5484d"));
    if (agent && agent.stop) {
      shapes.push({ type: "line", xref: "paper", x0: 0, x1: 1, y0: Number(agent.stop), y1: Number(agent.stop),
        line: { color: "#f0a020", width: 1.5, dash: "dash" } });
    }
    const layout = Object.assign({}, layoutBase, {
      shapes, xaxis: Object.assign({}, layoutBase.xaxis, { rangeslider: { visible: false } }),
      title: { text: symbol + (agent && agent.stop ? "  (stop " + agent.stop + ")" : ""), font: { size: 12 } },
    });
    Plotly.react("chart", traces, layout, config);
    view.chartDirty = false;
    $("chart").dataset.drawn = String(Date.now());  // when (tests wait for a redraw)
  }

  function redraw() {
    const now = Date.now();
    if (now - view.lastChart >= CHART_EVERY_MS) {
      view.lastChart = now;
      if (view.equityDirty) drawEquity();
      if (view.chartDirty) drawChart();
    }
    window.requestAnimationFrame(redraw);
  }

  function chooseSymbol(symbol) {
    view.symbol = symbol;
    fetch("/api/chart?symbol=" + encodeURIComponent(symbol), { credentials: "same-origin" })
      .then((r) => (r.ok ? r.json() : Promise.reject(new Error("HTTP " + r.status))))
      .then((data) => {
        if (data.symbol !== view.symbol) return;
        view.bars[symbol] = data.bars;
        view.chartDirty = true;
      })
      .catch((e) => { $("control-result").textContent = "chart: " + e.message; });
  }

  // ----------------------------------------------------------- stream
  function hello(h) {
    view.symbols = h.symbols;
    const select = $("symbol");
    if (!select.options.length) {
      for (const s of h.symbols) select.appendChild(el("option", s));
      select.addEventListener("change", () => chooseSymbol(select.value));
    }
    view.symbol = view.symbol || h.chart.symbol;
    view.bars[h.chart.symbol] = h.chart.bars;
    if (view.symbol !== h.chart.symbol) chooseSymbol(view.symbol);
    view.fills = [];
    $("fills").tBodies[0].replaceChildren();
    const now = Date.now();
    for (const f of h.fills) addFill(f, now);
    $("tca").tBodies[0].replaceChildren();
    for (const t of h.tca) addTca(t);
    $("alerts").replaceChildren();
    for (const a of h.alerts) addAlert(a);
    view.equity = h.equity;
    view.equityDirty = true;
    view.chartDirty = true;
    renderState(h.state);
  }

  function connect() {
    const source = new EventSource("/events");
    const link = $("link");
    source.onopen = () => {
      link.textContent = "live";
      link.className = "badge ok";
      document.body.dataset.connected = "true";
    };
    source.onerror = () => {
      link.textContent = "reconnecting…";
      link.className = "badge bad";
      document.body.dataset.connected = "false";
    };
    source.addEventListener("hello", (e) => hello(JSON.parse(e.data)));
    source.addEventListener("state", (e) => renderState(JSON.parse(e.data)));
    source.addEventListener("fill", (e) => addFill(JSON.parse(e.data), Date.now()));
    source.addEventListener("tca", (e) => addTca(JSON.parse(e.data)));
    source.addEventListener("alert", (e) => addAlert(JSON.parse(e.data)));
  }

  // --------------------------------------------------------- controls
  const WHAT = {
    pause: "Pause entries? No new positions will be opened; exits and stops go on.",
    resume: "Resume entries? The agents' entry signals will be traded again.",
    flatten: "Flatten ALL? Every working entry is cancelled and every position closed at market; entries stay paused.",
  };

  function ask(action) {
    const dialog = $("confirm");
    $("confirm-text").textContent = WHAT[action];
    dialog.dataset.action = action;
    dialog.returnValue = "";
    dialog.showModal();
  }

  function send(action) {
    const result = $("control-result");
    result.textContent = action + "…";
    fetch("/api/control", {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify({ action }),
    })
      .then((r) => r.json().then((body) => ({ ok: r.ok, body })))
      .then(({ ok, body }) => {
        result.textContent = ok
          ? action + ": done (" + body.command_id + "), entries " + (body.paused ? "paused" : "allowed")
          : action + ": refused: " + body.error;
        result.dataset.last = ok ? action : "error";
      })
      .catch((e) => { result.textContent = action + ": " + e.message; });
  }

  document.addEventListener("DOMContentLoaded", () => {
    for (const action of ["pause", "resume", "flatten"]) $(action).addEventListener("click", () => ask(action));
    $("confirm").addEventListener("close", () => {
      const dialog = $("confirm");
      if (dialog.returnValue === "ok") send(dialog.dataset.action);
    });
    connect();
    window.requestAnimationFrame(redraw);
  });
})();
