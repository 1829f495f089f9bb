"""One frozen settings object, read from ``DSIKB_*`` environment variables.

Every field has a default and a help text; the README's settings table is checked against
``SETTINGS`` by a test, so a new setting cannot go undocumented.
"""

from __future__ import annotations

import dataclasses
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# Data the package reads at run time (ontology, shapes, taxonomies, the submission JSON Schema, the
# curated graph), installed with it: kb/data holds links to the sources at the top of the repository,
# which a wheel build copies in.
DATA_DIR = Path(__file__).resolve().parent / "data"
DEFAULT_BASE_URI = "https://w3id.org/dsi/"


def _default_sources() -> str:
    shared = PROJECT_ROOT.parent / "shared" / "data" / "dsi"
    return str(shared) if shared.is_dir() else ""


def _setting(default, help: str, *, env_type=str):
    return field(default=default, metadata={"help": help, "type": env_type})


def _bool(value: str) -> bool:
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _optional_int(value: str) -> int | None:
    return int(value) if value.strip() else None


@dataclass(frozen=True)
class Settings:
    """Configuration of the knowledge base; ``DSIKB_<NAME>`` sets field ``<name>``."""

    base_uri: str = _setting(DEFAULT_BASE_URI, "Namespace of every minted IRI (entities, ontology, graphs).")
    store: str = _setting("var/store", "On-disk Oxigraph store directory, or a sparql+http(s):// URL of a remote SPARQL 1.1 store.")
    store_query_url: str = _setting("", "SPARQL 1.1 Query endpoint of a remote store (empty: from DSIKB_STORE, e.g. sparql+http://host:7878 gives Oxigraph server's http://host:7878/query).")
    store_update_url: str = _setting("", "SPARQL 1.1 Update endpoint of a remote store (empty: the query URL's /query replaced by /update, Oxigraph server's).")
    store_gsp_url: str = _setting("", "Graph Store HTTP Protocol endpoint of a remote store for bulk loads and dumps (empty: the query URL's /query replaced by /store; `none`: no GSP, loads go as INSERT DATA in chunks).")
    store_user: str = _setting("", "User name for HTTP basic authentication to a remote store (empty: none).")
    store_password: str = _setting("", "Password for HTTP basic authentication to a remote store.")
    store_public_graph: str = _setting("", "IRI of a named graph under the base IRI's graph/tmp/ that holds the public default graph on a remote store whose own default graph cannot be written (Virtuoso: the union of all its graphs), e.g. https://w3id.org/dsi/graph/tmp/public; queries without FROM get it by `default-graph-uri`, and only graphs under graph/ feed it (empty: the store's own default graph, as on Oxigraph).")
    sources: str = _setting(_default_sources(), "Folder with the real DSI exports; empty: fetch them (verified) on init.")
    query_timeout: float = _setting(30.0, "Seconds a SPARQL query may run before it is stopped.", env_type=float)
    index_wait: float = _setting(5.0, "Seconds a search or browse request waits for the search index or lists of the latest change (rebuilt in the background after every write) before it is answered from the previous ones, saying so; with none yet it waits DSIKB_QUERY_TIMEOUT, then 503.", env_type=float)
    max_rows: int = _setting(100_000, "Most result rows a SPARQL SELECT returns.", env_type=int)
    max_response_bytes: int = _setting(64 * 1024 * 1024, "Most bytes a SPARQL response body may have.", env_type=int)
    max_query_length: int = _setting(100_000, "Longest accepted SPARQL query or update, in characters (413 beyond).", env_type=int)
    query_workers: int = _setting(4, "Worker processes that evaluate SPARQL queries (stoppable on timeout).", env_type=int)
    light_workers: int = _setting(2, "More worker processes only for light SPARQL lookups, so they never wait behind heavy queries (0: one shared queue).", env_type=int)
    light_seconds: float = _setting(1.0, "Seconds a query classified light may run on a light worker before it is moved to the heavy workers.", env_type=float)
    precompute: bool = _setting(True, "Precompute the SPARQL gallery's answers once per store generation, in the background, and answer a gallery query from them (X-SPARQL-Precomputed; 0: evaluate every query).", env_type=_bool)
    precompute_poll: float = _setting(5.0, "Seconds between dsikb serve's checks of the store's generation, to refresh the precomputed gallery.", env_type=float)
    network_inline_max: int = _setting(5_000, "Organisations in the network of organisations up to which accepting a submission or merging two entities recomputes the network figures in its own transaction; above it they are written by a background process a while after (0: always in the background).", env_type=int)
    # Fair use and capacity (docs/sparql.md, "Fair use and limits")
    rate_limit: float = _setting(60.0, "Seconds of SPARQL query evaluation a client may use per minute, refilled continuously (0: no budget).", env_type=float)
    rate_burst: float = _setting(120.0, "Seconds of evaluation a client may use at once before the per-minute budget applies.", env_type=float)
    client_queries: int = _setting(2, "SPARQL queries one client may have running at once, at most query_workers - 1 (0: no cap).", env_type=int)
    queue_wait: float = _setting(0.5, "Seconds a query may wait for a free worker or its client's turn before 503/429.", env_type=float)
    sparql_threads: int = _setting(16, "Most server threads SPARQL queries may hold at once (503 beyond); keep below server_threads.", env_type=int)
    server_threads: int = _setting(24, "Threads of the `dsikb serve` web server (pages keep those SPARQL may not hold).", env_type=int)
    trusted_proxies: str = _setting("", "Space-separated addresses or CIDR networks of reverse proxies whose X-Forwarded-For is believed (empty: none).")
    submission_rate_limit: int = _setting(60, "Submissions (API or form) one address may send per hour, all at once at most (0: no limit).", env_type=int)
    update_token: str = _setting("", "Bearer token that enables SPARQL Update (empty: the endpoint is read-only).")
    service_allowlist: str = _setting("", "Space-separated SPARQL endpoint IRIs a query may call with SERVICE (empty: none).")
    trusted_hosts: str = _setting("", "Space-separated host names (`name` or `name:port`) a request's Host header may give; others get 400 (empty: the host of DSIKB_BASE_URI, the address `dsikb serve` listens on, localhost, 127.0.0.1 and [::1], any port).")
    host: str = _setting("127.0.0.1", "Address `dsikb serve` listens on.")
    port: int = _setting(8080, "Port `dsikb serve` listens on.", env_type=int)
    secret_key: str = _setting("", "Flask session key for moderator logins (empty: a random key per process).")
    moderators: str = _setting("", "File of moderator accounts (`name:hash` lines, see `dsikb moderator`).")
    session_max_age: int = _setting(43_200, "Seconds a moderator's sign-in lasts, counted from sign-in (then sign in again).", env_type=int)
    cookie_secure: str = _setting("auto", "Secure flag of the session cookie: yes, no, or auto (Secure except over plain http to localhost).")
    login_max_failures: int = _setting(5, "Failed moderator sign-ins per account and per address in 15 minutes before further attempts get 429 for a growing delay (0: no limit).", env_type=int)
    submissions_db: str = _setting("", "SQLite file of the submission queue (empty: beside the store, `{DSIKB_STORE}.submissions.sqlite`, for an on-disk store; for a remote store one file per store in the user's state folder, `$XDG_STATE_HOME/dsikb/`, by default `~/.local/state/dsikb/`).")
    submission_max_bytes: int = _setting(1_000_000, "Largest accepted submission body, in bytes (413 beyond).", env_type=int)
    wikidata_endpoint: str = _setting("https://query.wikidata.org/sparql", "SPARQL endpoint `dsikb link wikidata` queries.")
    contact: str = _setting("", "Contact point stated in the VoID/DCAT description: a `mailto:` address or a web page (empty: the site's home page).")
    access_log: str = _setting("json", "Access log of `dsikb serve` on standard error: json (one object a line), text, or off.")
    user_agent: str = _setting("dsikb/0.1 (https://w3id.org/dsi/; linked-data knowledge base of DSI)", "User-Agent sent to other services.")

    @property
    def store_is_remote(self) -> bool:
        return self.store.startswith(("sparql+http://", "sparql+https://"))

    @property
    def store_path(self) -> Path:
        return Path(self.store)

    @classmethod
    def from_env(cls, environ=None, **overrides) -> "Settings":
        """Settings from ``DSIKB_*`` variables, then ``overrides`` (None values ignored)."""
        environ = os.environ if environ is None else environ
        values = {}
        for f in dataclasses.fields(cls):
            raw = environ.get("DSIKB_" + f.name.upper())
            if raw is not None:
                values[f.name] = f.metadata["type"](raw)
        values.update({k: v for k, v in overrides.items() if v is not None})
        settings = cls(**values)
        if not settings.base_uri.endswith(("/", "#")):
            raise ValueError(f"DSIKB_BASE_URI must end with '/' or '#': {settings.base_uri!r}")
        return settings

    def replace(self, **changes) -> "Settings":
        return dataclasses.replace(self, **changes)


SETTINGS = [(f.name, f.default, f.metadata["help"]) for f in dataclasses.fields(Settings)]


def remote_state_file(settings: Settings, suffix: str) -> Path:
    """A file of the app's own state about a remote store (its submission queue, a linking run's
    progress), where no store directory can hold it: ``$XDG_STATE_HOME/dsikb/{host}-{port}{suffix}``
    (``~/.local/state`` when unset, as the XDG Base Directory specification says), never relative
    to the working directory. Named after the store's address (Oxigraph's ``/query`` left out, so
    both spellings of DSIKB_STORE agree): two stores never share a file, and every app process of
    one host finds the same one."""
    from urllib.parse import urlsplit

    state = os.environ.get("XDG_STATE_HOME", "")
    folder = Path(state) if os.path.isabs(state) else Path.home() / ".local" / "state"
    url = urlsplit(settings.store_query_url or settings.store.removeprefix("sparql+"))
    path = url.path.rstrip("/").removesuffix("/query")
    name = "-".join(p for p in (url.hostname or "store", str(url.port or ""),
                                re.sub(r"[^A-Za-z0-9.]+", "-", path).strip("-")) if p)
    return folder / "dsikb" / f"{name}{suffix}"
