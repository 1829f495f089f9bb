"""The real DSI source files: where they come from (pinned commits), their SHA-256 sums, and getting them.

``locate_sources`` uses the configured folder when it holds every file with the right checksum, else
downloads them into ``var/sources``. ``fetch_sources`` downloads each file from its pinned GitHub
origin, verifies its SHA-256 and writes it atomically; offline or on a mismatch it raises
:class:`kb.errors.SourceUnavailable` with a message saying what to do.
"""

from __future__ import annotations

import hashlib
import os
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from kb.errors import SourceUnavailable

RAW_URL = "https://raw.githubusercontent.com/{owner}/{repo}/{commit}/{path}"
DSI4EU = ("nestauk", "DSI4EU", "944145c20bfe523cfa9e9febf687ec7f45025d03")
DATAVIZ = ("nestauk", "DSI4EU_Dataviz", "f877113b160331cafcc144f88355af581cdae55e")
SWIRRL = ("Swirrl", "digitalsocial", "9239fbb62efc96f9cb8b91f5620ebc6042cae93c")


@dataclass(frozen=True)
class SourceFile:
    """One pinned source file: local name, origin repository at a commit, path there, SHA-256."""

    name: str
    origin: tuple[str, str, str]
    path: str
    sha256: str

    def url(self, base_url: str = RAW_URL) -> str:
        owner, repo, commit = self.origin
        return base_url.format(owner=owner, repo=repo, commit=commit, path=self.path)


FILES = (
    SourceFile("dsi2013_swirrl_export_orgs.csv", DSI4EU, "import/orgs.csv",
               "4fcc36b4dbe2cb3ae975d5d67dd9b0b3ba904d43d0078b28353f8740f9aee02e"),
    SourceFile("dsi2013_swirrl_export_projects.csv", DSI4EU, "import/projects.csv",
               "7620b552ad990c69cba81a88f288001045945a3a18ba61d8f22e113f5db3c3f7"),
    SourceFile("dsi2013_swirrl_export_org-projects.csv", DSI4EU, "import/org-projects.csv",
               "e643c4e8122b0a33bffb1b9d5972ece6807a6e822661eaa6df69af8ba9ec7860"),
    SourceFile("dsi4eu_organisations2_2017-03-27.json", DATAVIZ, "app/data/organisations2.json",
               "4ce962b6a43adfccba9c4f143d80704e745a279c5eff31a9e2ad32738fad5890"),
    SourceFile("dsi4eu_projects2_2017-03-27.json", DATAVIZ, "app/data/projects2.json",
               "77d835f0e7d637f944f9707c5b0f7516bba35c986b7bb973c5ffcb7930342736"),
    SourceFile("dsi4eu_organisations_2017-03-10.json", DATAVIZ, "app/data/organisations.json",
               "d71bfe8e84bfee60bf011c45f4c51f2cbc4e779653cc3f56c2ad672e1af4e760"),
    SourceFile("dsi4eu_projects_2017-03-10.json", DATAVIZ, "app/data/projects.json",
               "b0fcdffe63dd7ea6f31a8757d4679bd87f9950987978e744e2d871fddc9be2f1"),
    SourceFile("swirrl_digitalsocial_areas_of_digital_social_innovation.txt", SWIRRL,
               "db/imports/areas_of_digital_social_innovation.txt",
               "48907bef43a57bab218b37439178da6f5c28d09bb0214cd1ce77309fe82124df"),
    SourceFile("swirrl_digitalsocial_map_partners_static.json", SWIRRL,
               "app/views/organisations/map_partners_static.json",
               "e4340db0238dfa80e86c9765fc1a8b706bbe0ea1c5179632e762b3109ef90608"),
)
BY_NAME = {f.name: f for f in FILES}
DEFAULT_DEST = Path("var/sources")
TIMEOUT = 30.0


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 16), b""):
            h.update(chunk)
    return h.hexdigest()


def problems(folder: Path) -> list[str]:
    """What is wrong with ``folder`` as a source folder (empty list: every file there and verified)."""
    found = []
    for f in FILES:
        path = folder / f.name
        if not path.is_file():
            found.append(f"{f.name}: missing")
        elif sha256_file(path) != f.sha256:
            found.append(f"{f.name}: SHA-256 differs from the pinned sum")
    return found


def locate_sources(settings, log: Callable[[str], None] = lambda m: None) -> Path:
    """The folder to import from: ``settings.sources`` when it holds every verified file, else a
    verified download into ``var/sources`` (reused when already complete)."""
    if settings.sources:
        folder = Path(settings.sources)
        wrong = problems(folder)
        if not wrong:
            log(f"sources: {folder} (all {len(FILES)} files verified)")
            return folder
        log(f"sources: {folder} is not usable ({'; '.join(wrong[:3])}); fetching instead")
    dest = DEFAULT_DEST
    if dest.is_dir() and not problems(dest):
        log(f"sources: {dest} (all {len(FILES)} files verified)")
        return dest
    return fetch_sources(dest, log)


def fetch_sources(dest: Path, log: Callable[[str], None] = lambda m: None, *,
                  base_url: str = RAW_URL, timeout: float = TIMEOUT) -> Path:
    """Download every pinned file into ``dest``, verified; files already there and correct are kept."""
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    for f in FILES:
        target = dest / f.name
        if target.is_file() and sha256_file(target) == f.sha256:
            log(f"{f.name}: already there, verified")
            continue
        url = f.url(base_url)
        log(f"{f.name}: fetching {url}")
        data = _download(url, timeout)
        digest = hashlib.sha256(data).hexdigest()
        if digest != f.sha256:
            raise SourceUnavailable(
                f"{f.name}: the file at {url} has SHA-256 {digest}, not the pinned {f.sha256}; "
                "nothing was written. The origin changed or the download was corrupted: "
                "put verified copies in a folder and pass it with --sources.")
        tmp = target.with_name(f".{target.name}.part")
        tmp.write_bytes(data)
        os.replace(tmp, target)
    return dest


def _download(url: str, timeout: float) -> bytes:
    request = urllib.request.Request(url, headers={"User-Agent": "dsikb fetch-sources"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.read()
    except urllib.error.HTTPError as exc:
        raise SourceUnavailable(
            f"cannot fetch {url}: HTTP {exc.code} {exc.reason}. Check the network, or put the "
            "DSI exports in a folder and pass it with --sources (DSIKB_SOURCES).") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise SourceUnavailable(
            f"cannot fetch {url}: {reason} (offline?). Connect to the internet and retry, or put "
            "the DSI exports in a folder and pass it with --sources (DSIKB_SOURCES).") from None


def origin_url(name: str) -> str:
    """The pinned public origin URL of a source file."""
    return BY_NAME[name].url()
