"""``python -m gateway``: argument errors, config errors, ``--check`` against the stand-in."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.gateway.harness import ROOT, StandIn, _env, write_config


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gateway", *args],
        cwd=ROOT,
        env=_env(env),
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_bad_arguments_exit_2() -> None:
    result = run()
    assert result.returncode == 2 and "--config" in result.stderr
    assert run("--config", "x.toml", "--frobnicate").returncode == 2


def test_invalid_config_exits_2_naming_the_key(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[broker]\ntype = "alpaca"\npaper = "maybe"\n')
    path.chmod(0o600)
    result = run("--config", str(path))
    assert result.returncode == 2
    assert "broker.paper" in result.stderr and "maybe" in result.stderr
    missing = run("--config", str(tmp_path / "nope.toml"))
    assert missing.returncode == 2 and "cannot be read" in missing.stderr


@pytest.fixture(scope="module")
def standin(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    workdir = tmp_path_factory.mktemp("cli")
    s = StandIn(workdir, "--scenario", "range", "--speed", "60", "--history-days", "0")
    yield workdir, s
    s.stop()


def test_check_passes_against_the_standin(standin) -> None:  # type: ignore[no-untyped-def]
    workdir, s = standin
    config = write_config(workdir, s)
    result = run("--config", str(config), "--check")
    assert result.returncode == 0, result.stderr
    assert "broker alpaca: ok" in result.stdout and "telegram: ok" in result.stdout
    assert not (workdir / "gateway.db").exists()  # a check trades nothing, writes nothing


def test_check_fails_clearly_on_bad_credentials(standin) -> None:  # type: ignore[no-untyped-def]
    workdir, s = standin
    config = write_config(workdir, s, secret="WRONGSECRET123", token="999:WRONGTOKEN")
    result = run("--config", str(config), "--check")
    assert result.returncode == 1
    assert "broker alpaca: FAILED" in result.stderr and "telegram: FAILED" in result.stderr
    assert "WRONGSECRET123" not in result.stderr + result.stdout
    assert "WRONGTOKEN" not in result.stderr + result.stdout


def test_fix_alone_exits_2_because_it_has_no_bars(standin) -> None:  # type: ignore[no-untyped-def]
    workdir, s = standin
    config = write_config(workdir, s)
    host, port = s.endpoints["fix"].split(":")
    text = config.read_text().replace('type = "alpaca"', 'type = "fix"') + (
        f'\n[fix]\nhost = "{host}"\nport = {port}\nsender_comp_id = "SOVEREIGN"\n'
        'target_comp_id = "PRIMEBROKER"\n'
    )
    config.write_text(text)
    result = run("--config", str(config), "--check")
    assert result.returncode == 2 and "broker.type" in result.stderr
    assert "no market data" in result.stderr and 'type = "tiered"' in result.stderr


def test_ibkr_alone_checks_against_the_tws_standin(standin) -> None:  # type: ignore[no-untyped-def]
    workdir, s = standin
    config = write_config(workdir, s)
    host, port = s.endpoints["tws"].split(":")
    text = config.read_text().replace('type = "alpaca"', 'type = "ibkr"') + (
        f'\n[ibkr]\nhost = "{host}"\nport = {port}\nclient_id = 9\naccount_id = "DU0000001"\n'
    )
    config.write_text(text)
    result = run("--config", str(config), "--check")
    assert result.returncode == 0, result.stderr
    assert "broker ibkr: ok" in result.stdout
