"""Every file and folder the gateway's stores and logs create is owner-only,
whatever the umask (issue 15): run in a subprocess under umask 022, with the
stores open (so SQLite's -wal and -shm files exist), then ``stat`` them all.

The end-to-end version, ``python -m gateway`` itself over FIX, is
``tests/tiers/test_e2e_private.py``.
"""

from __future__ import annotations

import json
import stat
import subprocess
import sys
from pathlib import Path

from gateway.files import gateway_paths, permission_problems, private_dir, private_file
from tests.gateway.harness import ROOT, _env

SCRIPT = r"""
import json, os, sqlite3, sys, logging
from pathlib import Path

os.umask(0o022)
root = Path(sys.argv[1])
from gateway.storage import Storage
from gateway.brokers.tiered import fix_store_path
from gateway.brokers.prime_fix.ledger import ProcessedMark
from gateway.logs import setup_logging
from fix.store import SqliteStore

db = root / "data" / "deeper" / "gw.db"
storage = Storage(db)
storage.db.execute("CREATE TABLE IF NOT EXISTS t (x)")
storage.db.execute("INSERT INTO t VALUES (1)")
storage.routes.put("c1", "fix")
store = SqliteStore(fix_store_path(db), "K")
store.save_sent(1, b"8=FIX.4.4\x019=5\x0135=0\x0110=000\x01")
mark = ProcessedMark(fix_store_path(db), "K")
mark.set(3)
setup_logging("info", root / "logs" / "run" / "gw.jsonl", [], stderr=False)
logging.getLogger("x").info("hello")
control = sqlite3.connect(root / "control.db")  # plain sqlite3: what the umask gives
control.execute("PRAGMA journal_mode=WAL")
control.execute("CREATE TABLE t (x)")
modes = {}
for path in sorted(root.rglob("*")):
    modes[str(path.relative_to(root))] = [stat.S_IMODE(path.stat().st_mode), path.is_dir()]
print(json.dumps(modes))
os._exit(0)  # as kill -9: nothing closed, every -wal and -shm left behind
""".replace("import json, os", "import json, os, stat")


def test_stores_and_logs_are_owner_only_under_umask_022(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path)],
        cwd=ROOT,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    modes: dict[str, list[int]] = json.loads(done.stdout)
    # the umask is in force: SQLite left to itself makes 0644 files
    assert modes.pop("control.db")[0] == 0o644
    assert modes.pop("control.db-wal")[0] == 0o644
    assert modes.pop("control.db-shm")[0] == 0o644
    names = set(modes)
    for name in ("gw.db", "gw.db.fix.sqlite"):
        for suffix in ("", "-wal", "-shm"):
            assert f"data/deeper/{name}{suffix}" in names, sorted(names)
    assert "logs/run/gw.jsonl" in names
    wrong = {n: oct(m) for n, (m, is_dir) in modes.items() if m != (0o700 if is_dir else 0o600)}
    assert wrong == {}


def test_private_helpers_and_the_check_report(tmp_path: Path) -> None:
    folder = private_dir(tmp_path / "a" / "b")
    assert stat.S_IMODE((tmp_path / "a").stat().st_mode) == 0o700
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    log = private_file(tmp_path / "logs" / "x.jsonl")
    assert stat.S_IMODE(log.stat().st_mode) == 0o600
    db = tmp_path / "a" / "gw.db"
    db.write_bytes(b"")
    db.chmod(0o600)
    (tmp_path / "a" / "gw.db-wal").write_bytes(b"")
    (tmp_path / "a" / "gw.db-wal").chmod(0o644)
    (tmp_path / "a" / "other.txt").write_bytes(b"")  # not the gateway's: not reported
    (tmp_path / "a" / "other.txt").chmod(0o644)
    (tmp_path / "logs").chmod(0o755)
    paths = gateway_paths(db, tmp_path / "logs")
    problems = permission_problems(paths)
    assert problems == [
        f"file {tmp_path / 'a' / 'gw.db-wal'} is not owner-only (mode 644):"
        f" chmod 600 {tmp_path / 'a' / 'gw.db-wal'}",
        f"folder {tmp_path / 'logs'} is not owner-only (mode 755): chmod 700 {tmp_path / 'logs'}",
    ]
