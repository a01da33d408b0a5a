"""Hostile and broken requests against the real gateway's dashboard: each gets
a clear 4xx (a JSON body naming the field where there is one), nothing is
logged with a traceback, and trading goes on."""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from tests.dashboard.harness import TOKEN, Running, log_lines, running
from tests.gateway.agreement import compare
from tests.gateway.harness import wait_for

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    workdir = tmp_path_factory.mktemp("dashboard-bad")
    with running(workdir, "--scenario", "range", "--speed", "480", "--history-days", "0") as r:
        yield r


def _request(
    run: Running,
    path: str,
    *,
    method: str = "GET",
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    token: str | None = TOKEN,
) -> tuple[int, dict[str, Any], dict[str, str]]:
    all_headers = dict(headers or {})
    if token is not None:
        all_headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(run.url + path, data=body, headers=all_headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=15) as response:
            return response.status, json.loads(response.read() or b"{}"), dict(response.headers)
    except urllib.error.HTTPError as exc:
        raw = exc.read()
        try:
            parsed = json.loads(raw)
        except ValueError:
            parsed = {"raw": raw.decode(errors="replace")}
        return exc.code, parsed, dict(exc.headers)


def _raw(run: Running, data: bytes) -> bytes:
    host, port = run.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(data)
        chunks = []
        try:
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                chunks.append(chunk)
        except (ConnectionResetError, TimeoutError):
            pass
    return b"".join(chunks)


def _control(run: Running, body: object, **kw: Any) -> tuple[int, dict[str, Any], dict[str, str]]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {"Content-Type": "application/json", **kw.pop("headers", {})}
    return _request(run, "/api/control", method="POST", body=data, headers=headers, **kw)


def test_malformed_http_gets_400_and_the_connection_closes(run: Running) -> None:
    for garbage in (
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(range(40)) + b"\r\n\r\n",
        b"GET / HTTP/9.9\r\n\r\n",
        b"GET /" + b"a" * 20_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 20_000 + b"\r\n\r\n",
        b"POST /api/control HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\n\r\n",
        b"GET / HTTP/1.1\r\nHo st: x\r\n\r\n",
    ):
        answer = _raw(run, garbage)
        assert answer.startswith((b"HTTP/1.0 4", b"HTTP/1.1 4")), (garbage[:40], answer[:80])


def test_unknown_paths_and_methods(run: Running) -> None:
    status, body, _ = _request(run, "/nope/../etc/passwd")
    assert status == 404 and body["error"] == "path: no such page or API"
    assert _request(run, "/static/../server.py")[0] == 404
    assert _request(run, "/static/secret.txt")[0] == 404
    assert _request(run, "/nope", token=None)[0] == 401  # unauthenticated: nothing is revealed
    status, body, _ = _request(run, "/api/state", method="PUT", body=b"{}")
    assert status == 405 and "PUT" in body["error"]


def test_bad_api_queries_name_the_field(run: Running) -> None:
    status, body, _ = _request(run, "/api/fills?since=no-such-exec")
    assert status == 404 and "since='no-such-exec'" in body["error"]
    status, body, _ = _request(run, "/api/fills?limit=abc")
    assert status == 400 and body["error"].startswith("limit='abc'")
    status, body, _ = _request(run, "/api/fills?limit=0")
    assert status == 400
    status, body, _ = _request(run, "/api/chart?symbol=%3Cscript%3E")
    assert status == 400 and "symbol='<script>'" in body["error"]
    status, body, _ = _request(run, "/api/fills?since=" + "x" * 5000)
    assert status == 400 and body["error"].startswith("since:")


def test_bad_control_requests_are_refused_with_the_reason(run: Running) -> None:
    cases: list[tuple[object, dict[str, str], int, str]] = [
        (b"{not json", {}, 400, "body: is not JSON"),
        (b"[1, 2]", {}, 400, "body: must be a JSON object"),
        ({"action": "liquidate"}, {}, 400, "action='liquidate': must be one of"),
        ({"action": ["pause"]}, {}, 400, "action='list'"),
        ({"action": "pause", "extra": 1}, {}, 400, "extra: is not a known field"),
        ({"action": "pause", "origin": "<b>"}, {}, 400, "origin:"),
        ({"action": "pause"}, {"Content-Type": "text/plain"}, 415, "Content-Type='text/plain'"),
        (b'{"action":"pause","pad":"' + b"x" * 40_000 + b'"}', {}, 413, "request body: larger"),
    ]
    for body, headers, status, message in cases:
        got, answer, _ = _control(run, body, headers=headers)
        assert (got, message in answer.get("error", "")) == (status, True), (body, got, answer)
    assert run.state()["paused"] is False  # none of them did anything


def test_a_cookie_without_the_csrf_token_cannot_press_a_button(run: Running) -> None:
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())
    with opener.open(run.url + "/login?token=" + TOKEN, timeout=15) as page:
        assert page.status == 200 and b'name="csrf-token"' in page.read()
    request = urllib.request.Request(
        run.url + "/api/control",
        data=b'{"action":"pause"}',
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        opener.open(request, timeout=15)
    assert refused.value.code == 403
    assert "X-CSRF-Token" in json.loads(refused.value.read())["error"]
    request.add_header("X-CSRF-Token", "guessed")
    with pytest.raises(urllib.error.HTTPError) as refused:
        opener.open(request, timeout=15)
    assert refused.value.code == 403
    assert run.state()["paused"] is False


def test_a_flood_of_control_posts_gets_429s_and_trading_goes_on(run: Running) -> None:
    bars_before = run.state()["counters"]["bars"]
    answers = [_control(run, {"action": "resume"}) for _ in range(60)]
    statuses = [a[0] for a in answers]
    assert statuses.count(200) <= 10 and statuses.count(429) >= 50
    limited = next(a for a in answers if a[0] == 429)
    assert limited[1]["error"] == "too many operator commands"
    assert int(limited[2]["Retry-After"]) >= 1
    assert wait_for(lambda: run.state()["counters"]["bars"] > bars_before + 20, 60)
    assert run.state()["paused"] is False


def test_wrong_tokens_are_rate_limited_but_a_logged_in_page_is_not(run: Running) -> None:
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())
    with opener.open(run.url + "/login?token=" + TOKEN, timeout=15) as page:
        assert page.status == 200
    statuses = [_request(run, "/api/state", token=f"guess-{n:020d}")[0] for n in range(40)]
    first = statuses.index(429)  # earlier tests' failures count too (one sliding minute)
    assert 10 <= first <= 20 and set(statuses[:first]) == {401} and set(statuses[first:]) == {429}
    status, _, headers = _request(run, "/api/state", token=None)
    assert status == 429 and int(headers["Retry-After"]) >= 1
    with opener.open(run.url + "/api/state", timeout=15) as page:  # the session still works
        assert page.status == 200 and "positions" in json.loads(page.read())


def test_nothing_was_logged_with_a_traceback_and_the_books_agree(run: Running) -> None:
    lines = log_lines(run.workdir)
    assert lines and not [x for x in lines if "exc" in x or "Traceback" in x["msg"]]
    assert "Traceback" not in (run.workdir / "gateway.err").read_text()
    refused = [x for x in lines if "malformed HTTP request refused" in x["msg"]]
    assert len(refused) >= 4
    assert TOKEN not in (run.workdir / "logs" / "e2e.jsonl").read_text()
    assert run.gateway.proc.poll() is None
    assert wait_for(lambda: compare(run.db, run.standin.state()).problems == [], 30)
