"""Moderator accounts, configured by the operator: a file (``DSIKB_MODERATORS``) of ``name:hash`` lines.

Passwords are hashed with Werkzeug's ``generate_password_hash`` (scrypt, salted, parameters stored in
the hash): a well-kept library already installed with Flask, so no new dependency and no home-made
crypto. Files are rewritten atomically so a crash never leaves half an account list.

Sessions are ended on the server through a small state file beside the accounts file
(``{file}.sessions.json``: name -> random epoch). A session carries the account's *stamp*, a digest of
its epoch and its password hash: a new epoch (sign-out), a new hash (``passwd``) or no account
(``remove``) changes the stamp, and every cookie issued before stops working.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import secrets
import threading
from pathlib import Path

from werkzeug.security import check_password_hash, generate_password_hash

from kb.errors import BadRequest, NotFound

NAME_RE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
MIN_PASSWORD = 10
DEFAULT_METHOD = "scrypt"  # Werkzeug's default: scrypt:32768:8:1
_lock = threading.Lock()  # one writer per process for the read-modify-write of the files


def read_accounts(path: str | os.PathLike | None) -> dict[str, str]:
    """name -> password hash; a missing or empty setting means no moderators."""
    if not path or not Path(path).exists():
        return {}
    accounts = {}
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#") or ":" not in line:
            continue
        name, hashed = line.split(":", 1)
        accounts[name.strip()] = hashed.strip()
    return accounts


def _write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def _write_accounts(path: Path, accounts: dict[str, str]) -> None:
    _write_atomically(path, "# dsikb moderators: name:hash (werkzeug scrypt); edit with `dsikb moderator`\n"
                      + "".join(f"{n}:{h}\n" for n, h in sorted(accounts.items())))


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise BadRequest(f"the password needs at least {MIN_PASSWORD} characters")


def add_account(path: str | os.PathLike, name: str, password: str) -> bool:
    """Add or replace one account; returns True when it is new. Sessions of the name end."""
    if not NAME_RE.match(name):
        raise BadRequest(f"moderator names are letters, digits, '.', '_' or '-' (1-64): {name!r}")
    _check_password(password)
    path = Path(path)
    with _lock:
        accounts = read_accounts(path)
        new = name not in accounts
        accounts[name] = generate_password_hash(password)
        _write_accounts(path, accounts)
        _new_epoch(path, name)
    return new


def set_password(path: str | os.PathLike, name: str, password: str) -> None:
    """Change the password of an existing account; its sessions end."""
    _check_password(password)
    path = Path(path)
    with _lock:
        accounts = read_accounts(path)
        if name not in accounts:
            raise NotFound(f"no moderator named {name!r} in {path}")
        accounts[name] = generate_password_hash(password)
        _write_accounts(path, accounts)
        _new_epoch(path, name)


def remove_account(path: str | os.PathLike, name: str) -> None:
    """Remove one account; its sessions end (it has no stamp any more)."""
    path = Path(path)
    with _lock:
        accounts = read_accounts(path)
        if name not in accounts:
            raise NotFound(f"no moderator named {name!r} in {path}")
        del accounts[name]
        _write_accounts(path, accounts)
        epochs = _read_epochs(path)
        if epochs.pop(name, None) is not None:
            _write_epochs(path, epochs)


@functools.lru_cache(maxsize=8)
def _dummy_hash(method: str) -> str:
    """A hash of a random password made with ``method``, checked for unknown names (same work)."""
    return generate_password_hash(secrets.token_urlsafe(16), method=method)


def _method(hashed: str) -> str:
    return hashed.split("$", 1)[0] if "$" in hashed else DEFAULT_METHOD


def check(path: str | os.PathLike | None, name: str, password: str) -> bool:
    """True when ``name`` is a moderator and ``password`` is theirs (constant-time compare).

    An unknown name is checked against a dummy hash with the parameters of the file's hashes, so it
    costs one hash of the same work as a known name: timing does not tell which names exist."""
    accounts = read_accounts(path)
    hashed = accounts.get(name)
    if hashed is None:
        method = _method(next(iter(accounts.values()), DEFAULT_METHOD))
        check_password_hash(_dummy_hash(method), password)
        return False
    return check_password_hash(hashed, password)


# -- server-side session state ---------------------------------------------------------------
def _epochs_path(path: Path) -> Path:
    return path.with_name(path.name + ".sessions.json")


def _read_epochs(path: Path) -> dict[str, str]:
    try:
        data = json.loads(_epochs_path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):  # missing or unreadable: every stamp changes, so sessions end
        return {}
    return {k: v for k, v in data.items() if isinstance(v, str)} if isinstance(data, dict) else {}


def _write_epochs(path: Path, epochs: dict[str, str]) -> None:
    _write_atomically(_epochs_path(path), json.dumps(epochs, indent=1, sort_keys=True) + "\n")


def _new_epoch(path: Path, name: str) -> None:
    epochs = _read_epochs(path)
    epochs[name] = secrets.token_urlsafe(16)
    _write_epochs(path, epochs)


def session_stamp(path: str | os.PathLike | None, name: str) -> str | None:
    """What a valid session of ``name`` carries now; None when there is no such account."""
    if not path:
        return None
    hashed = read_accounts(path).get(name)
    if hashed is None:
        return None
    epoch = _read_epochs(Path(path)).get(name, "")
    return hashlib.sha256(f"{epoch}\0{hashed}".encode()).hexdigest()[:32]


def end_sessions(path: str | os.PathLike, name: str) -> None:
    """Sign-out everywhere: a new epoch, so every cookie of ``name`` issued before is refused."""
    path = Path(path)
    with _lock:
        if name in read_accounts(path):
            _new_epoch(path, name)
