"""``python -m gateway`` over FIX, authenticated, under umask 022 (issue 15):
every file and folder it created is owner-only (``stat`` of each, SQLite's
-wal and -shm included: the process is killed with SIGKILL so they stay), the
FIX password is in none of them, and ``--check`` names any that is not.

The stand-in prime broker expects a Username/Password pair; the gateway
sends the username from the file and the password from
``SOVEREIGN_FIX_PASSWORD``.
"""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
from pathlib import Path

from tests.gateway.harness import (
    ROOT,
    StandIn,
    _env,
    db_rows,
    wait_for,
    write_tiered_config,
)

USER = "sovereign-desk"
PASSWORD = "Fix-Pa55word-e2e-7d41"
HARNESS = {"config.toml", "standin.err", "gateway.err"}  # written by this test, not the gateway


def _umask_022() -> None:
    os.umask(0o022)


def _check(config: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gateway", "--config", str(config), "--check"],
        cwd=ROOT,
        env=_env(env),
        capture_output=True,
        text=True,
        timeout=90,
        preexec_fn=_umask_022,
    )


def test_gateway_files_are_owner_only_and_the_fix_password_is_in_none(tmp_path: Path) -> None:
    standin = StandIn(
        tmp_path,
        "--scenario", "range", "--speed", "1000", "--history-days", "1",
        "--hold", "--pre-open", "5", "--days", "2", "--balance", "10000000",
        "--dark-fill-rate", "1", "--fix-username", USER, "--fix-password", PASSWORD,
    )  # fmt: skip
    env = {"SOVEREIGN_FIX_PASSWORD": PASSWORD}
    gateway = None
    try:
        config = write_tiered_config(tmp_path, standin, name="tiers", balance=2_000_000, fix=True)
        text = config.read_text()
        text = text.replace('path = "gateway.db"', 'path = "data/gateway.db"')
        text = text.replace(
            'target_comp_id = "PRIMEBROKER"\n',
            f'target_comp_id = "PRIMEBROKER"\nusername = "{USER}"\n',
        )
        config.write_text(text)
        db = tmp_path / "data" / "gateway.db"
        err = open(tmp_path / "gateway.err", "w")  # noqa: SIM115
        gateway = subprocess.Popen(
            [sys.executable, "-m", "gateway", "--config", str(config)],
            cwd=ROOT,
            stdout=err,
            stderr=err,
            env=_env(env),
            preexec_fn=_umask_022,
        )
        log = tmp_path / "logs" / "tiers.jsonl"
        assert wait_for(lambda: log.exists() and '"event": "ready"' in log.read_text(), 120), (
            tmp_path / "gateway.err"
        ).read_text()[-3000:]
        assert wait_for(lambda: standin.state()["fix"]["logged_on"], 60)  # authenticated
        assert standin.control({"action": "release"})["ok"]
        assert wait_for(lambda: len(standin.state()["fix"]["executions"]) >= 1, 240), (
            tmp_path / "gateway.err"
        ).read_text()[-3000:]
        assert wait_for(lambda: db_rows(db, "SELECT COUNT(*) FROM executions")[0][0] >= 1, 60)
        gateway.send_signal(signal.SIGKILL)  # nothing closed: every -wal and -shm stays
        gateway.wait(30)
        err.close()
        gateway = None

        created = sorted(p for p in tmp_path.rglob("*") if p.name not in HARNESS)
        names = {str(p.relative_to(tmp_path)) for p in created}
        for base in ("gateway.db", "gateway.db.fix.sqlite"):
            for suffix in ("", "-wal", "-shm"):
                assert f"data/{base}{suffix}" in names, sorted(names)
        assert {"data", "logs", "logs/tiers.jsonl"} <= names
        modes = {str(p.relative_to(tmp_path)): stat.S_IMODE(p.lstat().st_mode) for p in created}
        wrong = {
            name: oct(mode)
            for name, mode in modes.items()
            if mode != (0o700 if (tmp_path / name).is_dir() else 0o600)
        }
        assert wrong == {}, modes
        print(f"\nowner-only: {len(modes)} paths the gateway created: {sorted(modes)}")
        holding = [
            str(p)
            for p in tmp_path.rglob("*")
            if p.is_file() and PASSWORD.encode() in p.read_bytes()
        ]
        assert holding == []  # neither the stores, their WAL, the logs nor its stderr

        clean = _check(config, env)
        assert clean.returncode == 0, clean.stderr
        assert "not owner-only" not in clean.stderr + clean.stdout
        (tmp_path / "data" / "gateway.db.fix.sqlite").chmod(0o644)
        (tmp_path / "data").chmod(0o755)
        loose = _check(config, env)
        assert loose.returncode == 0, loose.stderr
        # (the path is compared from data/ on: the log mask hides "test", the
        # stand-in's Alpaca key, inside "pytest-of-root")
        assert "/data/gateway.db.fix.sqlite is not owner-only (mode 644)" in loose.stderr
        assert "/data is not owner-only (mode 755)" in loose.stderr
        assert PASSWORD not in loose.stderr + loose.stdout
    finally:
        if gateway is not None:
            gateway.kill()
            gateway.wait()
        standin.stop()
