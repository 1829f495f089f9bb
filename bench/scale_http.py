"""The servers and HTTP plumbing of bench/scale.py: ports, processes, their memory and CPU, requests.

Split out of bench/scale.py to keep it short; nothing here knows about sizes, data or mixes.
"""

from __future__ import annotations

import http.client
import socket
import subprocess
import threading
import time
import urllib.parse
from pathlib import Path

JSON_RESULTS = "application/sparql-results+json"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _tree(pid: int) -> list[int]:
    """A process and its descendants (the app and its query workers), from /proc."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def rss_tree(pid: int) -> int:
    """RSS in MiB of a process and its descendants."""
    total = 0
    for p in _tree(pid):
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total >> 10


def cpu_tree(pid: int) -> float:
    """CPU seconds (user + system) used so far by a process and its live descendants."""
    ticks = 0
    for p in _tree(pid):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            ticks += int(fields[11]) + int(fields[12])  # utime, stime
        except (OSError, IndexError, ValueError):
            pass
    return ticks / 100


def settle(servers, most: float = 180.0, quiet: float = 0.05) -> float:
    """Wait until no server burns CPU (queries a client gave up on may still run there, and would
    slow whatever is measured next): at most ``most`` seconds; returns the seconds waited."""
    t0 = time.monotonic()
    before = {s.name: cpu_tree(s.proc.pid) for s in servers}
    while time.monotonic() - t0 < most:
        time.sleep(2)
        now = {s.name: cpu_tree(s.proc.pid) for s in servers}
        if all(now[k] - before[k] < quiet * 2 for k in now):
            break
        before = now
    return round(time.monotonic() - t0, 1)


def start_up(servers, most: float) -> dict:
    """Wait, at most ``most`` seconds, until each server stops burning CPU after its start (``dsikb
    serve`` builds the search index, the /browse tables and the network in the background then):
    per server, the seconds from its start and the CPU seconds used, or ``None`` when still busy."""
    out: dict = {}
    deadline = time.monotonic() + most
    last = {s.name: cpu_tree(s.proc.pid) for s in servers}
    while time.monotonic() < deadline and len(out) < len(servers):
        time.sleep(3)
        for s in servers:
            now = cpu_tree(s.proc.pid)
            if s.name not in out and now - last[s.name] < 0.1:
                out[s.name] = {"quiet_after_s": round(time.monotonic() - s.started, 1), "cpu_s": round(now, 1)}
            last[s.name] = now
    for s in servers:
        out.setdefault(s.name, {"quiet_after_s": None, "cpu_s": round(cpu_tree(s.proc.pid), 1),
                                "busy_after_s": round(time.monotonic() - s.started, 1)})
    return out


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class Server:
    def __init__(self, name: str, url: str, proc: subprocess.Popen, kind: str):
        self.name, self.url, self.proc, self.kind = name, url, proc, kind
        parsed = urllib.parse.urlsplit(url)
        self.host, self.port, self.path = parsed.hostname, parsed.port, parsed.path
        self.started = time.monotonic()

    def wait_up(self, seconds: float = 300) -> bool:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                status, _ = request(self, self.path + "?query=" + urllib.parse.quote("ASK {}"), JSON_RESULTS, None)
                if status == 200:
                    return True
            except OSError:
                pass
            time.sleep(0.3)
        return False


_local = threading.local()


def request(server: Server, path: str, accept: str, timeout: float | None = 120) -> tuple[int, int]:
    """GET on a persistent connection of this thread; (status, body bytes). Retried once on a
    connection the server closed while idle, never after a timeout (that would double it, and leave
    the client still waiting when the next measurement starts)."""
    conns = getattr(_local, "conns", None)
    if conns is None:
        conns = _local.conns = {}
    for attempt in (0, 1):
        conn = conns.get(server.name)
        if conn is None:
            conn = conns[server.name] = http.client.HTTPConnection(server.host, server.port, timeout=timeout)
        conn.timeout = timeout
        if conn.sock is not None:
            conn.sock.settimeout(timeout)
        try:
            conn.request("GET", path, headers={"Accept": accept})
            resp = conn.getresponse()
            body = resp.read()
            if resp.getheader("Connection", "").lower() == "close":
                conn.close()
                del conns[server.name]
            return resp.status, len(body)
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            conns.pop(server.name, None)
            if attempt or isinstance(exc, TimeoutError):
                raise
    raise AssertionError
