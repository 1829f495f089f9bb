"""Moderator accounts, configured by the operator: a file (``DSIKB_MODERATORS``) of ``name:hash`` lines.

Passwords are hashed with Werkzeug's ``generate_password_hash`` (scrypt, salted, parameters stored in
the hash): a well-kept library already installed with Flask, so no new dependency and no home-made
crypto. The file is rewritten atomically so a crash never leaves half an account list.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from werkzeug.security import check_password_hash, generate_password_hash

from kb.errors import BadRequest

NAME_RE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
MIN_PASSWORD = 10


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


def add_account(path: str | os.PathLike, name: str, password: str) -> bool:
    """Add or replace one account; returns True when it is new."""
    if not NAME_RE.match(name):
        raise BadRequest(f"moderator names are letters, digits, '.', '_' or '-' (1-64): {name!r}")
    if len(password) < MIN_PASSWORD:
        raise BadRequest(f"the password needs at least {MIN_PASSWORD} characters")
    path = Path(path)
    accounts = read_accounts(path)
    new = name not in accounts
    accounts[name] = generate_password_hash(password)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write("# dsikb moderators: name:hash (werkzeug scrypt); edit with `dsikb moderator add`\n")
        f.writelines(f"{n}:{h}\n" for n, h in sorted(accounts.items()))
        f.flush()
        os.fsync(f.fileno())
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
    return new


def check(path: str | os.PathLike | None, name: str, password: str) -> bool:
    """True when ``name`` is a moderator and ``password`` is theirs (constant-time compare)."""
    hashed = read_accounts(path).get(name)
    if hashed is None:
        check_password_hash(generate_password_hash("x"), password)  # same work for unknown names
        return False
    return check_password_hash(hashed, password)
