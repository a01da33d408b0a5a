"""The Telegram Bot API stand-in: getMe, sendMessage, its errors."""

from __future__ import annotations

import pytest
import requests

from tests.standins.conftest import TOKEN, state


def _call(
    server: dict[str, str], method: str, token: str = TOKEN, **kwargs: object
) -> requests.Response:
    return requests.post(f"{server['telegram']}/bot{token}/{method}", timeout=5, **kwargs)  # type: ignore[arg-type]


def test_get_me_answers_a_bot(server: dict[str, str]) -> None:
    answer = _call(server, "getMe")
    assert answer.status_code == 200
    body = answer.json()
    assert body["ok"] is True
    assert body["result"]["is_bot"] is True and body["result"]["username"]
    assert requests.get(f"{server['telegram']}/bot{TOKEN}/getMe", timeout=5).json()["ok"]


def test_send_message_json_and_form_are_stored(server: dict[str, str]) -> None:
    first = _call(
        server, "sendMessage", json={"chat_id": 42, "text": "filled AAPL", "parse_mode": "HTML"}
    )
    second = _call(server, "sendMessage", data={"chat_id": "-1001", "text": "stop hit"})
    assert first.status_code == second.status_code == 200
    result = first.json()["result"]
    assert result["chat"]["id"] == 42 and result["text"] == "filled AAPL"
    assert second.json()["result"]["chat"]["id"] == -1001
    assert second.json()["result"]["message_id"] == result["message_id"] + 1
    stored = state(server)["telegram"]
    assert [m["text"] for m in stored[-2:]] == ["filled AAPL", "stop hit"]
    assert stored[-2]["parse_mode"] == "HTML"


def test_wrong_token_is_401_unauthorized(server: dict[str, str]) -> None:
    answer = _call(server, "getMe", token="123:wrong")
    assert answer.status_code == 401
    assert answer.json() == {"ok": False, "error_code": 401, "description": "Unauthorized"}
    answer = _call(server, "sendMessage", token="123:wrong", json={"chat_id": 1, "text": "x"})
    assert answer.status_code == 401


@pytest.mark.parametrize(
    ("payload", "description"),
    [
        ({"chat_id": 1, "text": ""}, "Bad Request: message text is empty"),
        ({"text": "hello"}, "Bad Request: chat_id is empty"),
        ({"chat_id": "not a chat", "text": "hello"}, "Bad Request: chat not found"),
        ({"chat_id": 1, "text": "x" * 4097}, "Bad Request: message is too long"),
    ],
)
def test_bad_messages_are_400_and_not_stored(
    server: dict[str, str], payload: dict[str, object], description: str
) -> None:
    before = len(state(server)["telegram"])
    answer = _call(server, "sendMessage", json=payload)
    assert answer.status_code == 400
    assert answer.json() == {"ok": False, "error_code": 400, "description": description}
    assert len(state(server)["telegram"]) == before


def test_unknown_method_is_404(server: dict[str, str]) -> None:
    answer = _call(server, "sendPhoto", json={"chat_id": 1})
    assert answer.status_code == 404 and answer.json()["ok"] is False


def test_unparseable_json_is_400_and_counted(server: dict[str, str]) -> None:
    before = state(server)["faults"]["counters"].get("telegram_bad_requests", 0)
    answer = _call(
        server, "sendMessage", data=b"{oops", headers={"Content-Type": "application/json"}
    )
    assert answer.status_code == 400
    assert answer.json()["description"] == "Bad Request: can't parse request body"
    assert state(server)["faults"]["counters"]["telegram_bad_requests"] == before + 1
