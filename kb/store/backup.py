"""``dsikb backup DIR`` and ``dsikb restore DIR``: the store with the submissions, as one folder.

A backup holds everything a running knowledge base has that cannot be rebuilt from the sources:
- ``store/``: the embedded store's own backup (pyoxigraph ``Store.backup``: a RocksDB checkpoint,
  consistent while the server runs and writes), or ``store.nq`` for a remote store (every named graph
  through the store interface; the public default graph is derived and rebuilt on restore);
- ``store.state.json``: the write generation, so caches and ETags carry on;
- ``submissions.sqlite``: the submission queue, copied with SQLite's online backup (consistent);
- ``moderators``: the moderator accounts file, when one is configured;
- ``manifest.json``: what is there, when it was made, and the store's figures, checked on restore
  (its generation and modification time are a remote store's after a restore).

Restore refuses to overwrite a store or queue that exists: move it aside first (nothing is lost by a
mistaken command).
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import time
from pathlib import Path

from kb.errors import BadRequest, KBError

FORMAT = "dsikb-backup/1"


def _queue_path(kb) -> Path | None:
    from kb.contribute.queue import SubmissionStore

    path = SubmissionStore.for_kb(kb).path
    return Path(path) if path is not None else None


def backup(kb, dest: str | Path) -> dict:
    """Write a backup of ``kb`` (and its submission queue and moderator accounts) into ``dest``, a
    folder that must not exist yet. Returns the manifest."""
    dest = Path(dest)
    if dest.exists() and any(dest.iterdir()):
        raise BadRequest(f"{dest} exists and is not empty: back up into a new folder")
    dest.mkdir(parents=True, exist_ok=True)
    kb.flush()
    files = []
    remote = bool(getattr(kb.settings, "store_is_remote", False))
    if remote:
        import pyoxigraph as ox

        with open(dest / "store.nq", "wb") as out:
            for graph in kb.named_graphs():  # the graphs as quads; the public default graph is derived
                kb.dump(out, ox.RdfFormat.N_QUADS, graph=graph)
        files.append("store.nq")
    else:
        kb.store.backup(str(dest / "store"))
        files.append("store")
        state = kb.path.with_name(kb.path.name + ".state.json")
        if state.exists():
            shutil.copy2(state, dest / "store.state.json")
            files.append("store.state.json")
    queue = _queue_path(kb)
    if queue is not None and queue.exists():
        with sqlite3.connect(queue) as source, sqlite3.connect(dest / "submissions.sqlite") as target:
            source.backup(target)
        files.append("submissions.sqlite")
    moderators = Path(kb.settings.moderators) if kb.settings.moderators else None
    if moderators is not None and moderators.exists():
        shutil.copy2(moderators, dest / "moderators")
        files.append("moderators")
    manifest = {"format": FORMAT, "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "store_kind": "remote" if remote else "embedded", "source": kb.settings.store,
                "generation": kb.generation, "modified": kb.modified, "quads": kb.triple_count(),
                "graphs": len(kb.named_graphs()), "files": files}
    (dest / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return manifest


def read_manifest(src: str | Path) -> dict:
    src = Path(src)
    try:
        manifest = json.loads((src / "manifest.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BadRequest(f"{src} is not a dsikb backup: it has no manifest.json") from None
    except json.JSONDecodeError as exc:
        raise BadRequest(f"{src}/manifest.json is damaged: {exc}") from None
    if manifest.get("format") != FORMAT:
        raise BadRequest(f"{src} is a backup of format {manifest.get('format')!r}; this dsikb reads {FORMAT}")
    return manifest


def restore(settings, src: str | Path) -> dict:
    """Restore the backup in ``src`` into the store named by ``settings`` (which must be new)."""
    from kb.contribute.queue import SubmissionStore
    from kb.store import KB

    src = Path(src)
    manifest = read_manifest(src)
    if settings.store_is_remote:
        kb = KB.open(settings)
        if kb.triple_count():
            raise BadRequest(f"the remote store {settings.store} is not empty: move it aside (or empty it) "
                             "before restoring")
        if "store.nq" not in manifest["files"]:
            raise BadRequest("this backup holds an embedded store's files; load its dump (dsikb dump) instead")
        queue = SubmissionStore.for_kb(kb).path
        if "submissions.sqlite" in manifest["files"] and queue is not None and queue.exists():
            raise BadRequest(f"{queue} exists: move it aside before restoring")
        kb.load_file(src / "store.nq")
        # caches, ETags and Last-Modified carry on, as from an on-disk store's store.state.json
        kb.set_generation(manifest["generation"], manifest.get("modified"))
    else:
        target = settings.store_path.resolve()
        if target.exists() and any(target.iterdir()):
            raise BadRequest(f"a store exists at {target}: move it aside before restoring")
        for name in (target.name + ".state.json", target.name + ".submissions.sqlite"):
            if (target.parent / name).exists():
                raise BadRequest(f"{target.parent / name} exists: move it aside before restoring")
        target.parent.mkdir(parents=True, exist_ok=True)
        if "store" in manifest["files"]:
            shutil.copytree(src / "store", target, dirs_exist_ok=True)
        else:
            kb = KB.open(settings)
            kb.load_file(src / "store.nq")
            kb.flush()
            del kb
        if "store.state.json" in manifest["files"]:
            shutil.copy2(src / "store.state.json", target.parent / (target.name + ".state.json"))
        kb = KB.open(settings)
    if "submissions.sqlite" in manifest["files"]:
        queue = SubmissionStore.for_kb(kb).path
        if queue is None:
            raise KBError("this store keeps no submission queue: the backup's submissions were not restored")
        Path(queue).parent.mkdir(parents=True, exist_ok=True)
        with sqlite3.connect(src / "submissions.sqlite") as source, sqlite3.connect(queue) as target_db:
            source.backup(target_db)
    if "moderators" in manifest["files"] and settings.moderators and not Path(settings.moderators).exists():
        shutil.copy2(src / "moderators", settings.moderators)
    restored = {"quads": kb.triple_count(), "generation": kb.generation}
    if restored["quads"] != manifest["quads"]:
        raise KBError(f"the restored store has {restored['quads']} quads; the backup recorded "
                      f"{manifest['quads']}: the backup is incomplete or damaged")
    return {"manifest": manifest, "restored": restored}
