"""Owner-only files and folders: everything the gateway writes is private.

The trade database and its WAL, the FIX session store (every order sent),
the routes database, the logs and the dashboard token are nobody else's
business on a shared host. Each is created 0600 (folders 0700) by the code
that makes it, whatever the process's umask:

- a folder is made with ``private_dir`` (``mkdir`` then ``chmod``: the mode
  given to ``mkdir`` is filtered by the umask);
- a SQLite database is created empty and 0600 *before* SQLite opens it
  (``fix.store.create_owner_only``): SQLite gives its ``-wal``, ``-shm``
  and ``-journal`` files the database file's mode, so they are 0600 too;
- a log file is created 0600 before the handler opens it.

``python -m gateway`` also sets the umask to 077 before it runs, so a file
some library creates on its own is private as well. ``--check`` reports any
existing file or folder of the gateway that is not owner-only
(``permission_problems``): one left from an older version, or copied in.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from pathlib import Path

from fix.store import SQLITE_COMPANIONS, create_owner_only

__all__ = [
    "create_owner_only",
    "gateway_paths",
    "permission_problems",
    "private_dir",
    "private_file",
]

PRIVATE_UMASK = 0o077


def private_dir(path: Path) -> Path:
    """``path`` and any missing parent created 0700; an existing folder is left alone."""
    path = Path(path)
    missing = []
    current = path
    while not current.exists():
        missing.append(current)
        if current.parent == current:
            break
        current = current.parent
    for folder in reversed(missing):
        folder.mkdir(mode=0o700, exist_ok=True)
        os.chmod(folder, 0o700)
    return path


def private_file(path: Path) -> Path:
    """``path`` created (empty) 0600 if missing, made 0600 if it exists."""
    path = Path(path)
    private_dir(path.parent)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.close(fd)
    os.chmod(path, 0o600)
    return path


def gateway_paths(database: Path, log_dir: Path) -> list[Path]:
    """What the gateway writes, as far as it exists now: the database folder,
    every file in it whose name starts with the database's (the database,
    its WAL/SHM, ``.fix.sqlite`` (and a pre-schema-6 ``.routes.sqlite``) with their WAL/SHM, the
    dashboard token, snapshots), and the log folder with everything in it."""
    found: list[Path] = []
    folder = database.parent
    if folder.is_dir():
        found.append(folder)
        found += sorted(p for p in folder.iterdir() if p.name.startswith(database.name))
    if log_dir.is_dir():
        found.append(log_dir)
        found += sorted(p for p in log_dir.rglob("*"))
    unique: list[Path] = []
    for path in found:
        if path not in unique:
            unique.append(path)
    return unique


def permission_problems(paths: Iterable[Path]) -> list[str]:
    """One warning per path that group or others may read, write or enter."""
    problems = []
    for path in paths:
        try:
            mode = path.lstat().st_mode
        except FileNotFoundError:
            continue
        if stat.S_ISLNK(mode) or not mode & (stat.S_IRWXG | stat.S_IRWXO):
            continue
        kind, want = ("folder", "700") if stat.S_ISDIR(mode) else ("file", "600")
        problems.append(
            f"{kind} {path} is not owner-only (mode {stat.S_IMODE(mode):o}): chmod {want} {path}"
        )
    return problems


def sqlite_files(database: Path) -> list[Path]:
    """The database and the companion files SQLite may have beside it."""
    return [database, *(Path(f"{database}{suffix}") for suffix in SQLITE_COMPANIONS)]
