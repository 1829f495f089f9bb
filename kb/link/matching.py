"""Name, website and country comparison shared by reconciliation and the outbound linker.

Pure functions, no store and no I/O: both directions (others matching against us, us matching against
Wikidata) judge a candidate with the same evidence, so they agree on what "the same name" means.
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import urlsplit

from rapidfuzz import fuzz

# Legal-form words that say nothing about which organisation it is.
LEGAL_FORMS = frozenset("""
ltd limited plc llp cic inc incorporated llc corp co company gmbh ggmbh ag ev e v eg ug kg mbh
sa sas sarl srl spa sl slu sau bv nv vzw asbl aisbl oy oyj ab as asa aps ky cooperative coop scrl
foundation stichting fundacion fundacio fondazione stiftung association asociacion associazione
""".split())
STOPWORDS = frozenset("the of and for de la le les del des di du der die das von van the a an et y e und".split())

_PUNCT = re.compile(r"[^\w\s]+", re.UNICODE)
_SPACE = re.compile(r"\s+")


def fold(text: str) -> str:
    """Lowercase, accents removed, '&' as 'and', punctuation as spaces, spaces collapsed."""
    text = unicodedata.normalize("NFKD", text or "")
    text = "".join(c for c in text if not unicodedata.combining(c)).lower().replace("&", " and ")
    text = _PUNCT.sub(" ", text.replace("'", "").replace("’", ""))
    return _SPACE.sub(" ", text).strip()


def core(text: str) -> str:
    """The folded name without legal-form words ('Nesta Ltd' and 'NESTA' share the core 'nesta')."""
    words = [w for w in fold(text).split() if w not in LEGAL_FORMS]
    return " ".join(words) or fold(text)


def tokens(text: str) -> set[str]:
    """Distinctive words of a name (index keys): folded, no stopwords, no legal forms."""
    return {w for w in core(text).split() if w not in STOPWORDS and len(w) > 1}


def name_similarity(a: str, b: str) -> float:
    """0..1: 1 for the same core name, high for reordered or slightly different spellings."""
    ca, cb = core(a), core(b)
    if not ca or not cb:
        return 0.0
    if ca == cb or ca.replace(" ", "") == cb.replace(" ", ""):
        return 1.0
    ratio = fuzz.ratio(ca, cb) / 100
    token_set = fuzz.token_set_ratio(ca, cb) / 100
    # token_set is 1.0 when one name's words are a subset of the other's ("Nesta" vs "Nesta Trust
    # Labs"); damp it by length so a short generic name does not fully match a long one.
    shorter, longer = sorted((len(ca), len(cb)))
    return max(ratio, token_set * (0.75 + 0.25 * shorter / longer) - 0.05)


def best_similarity(ours, theirs) -> tuple[float, str, str]:
    """The best (similarity, our name, their name) over two lists of names."""
    best = (0.0, "", "")
    for a in ours:
        for b in theirs:
            s = name_similarity(a, b)
            if s > best[0]:
                best = (s, a, b)
    return best


def host(url: str) -> str:
    """The host of a website without 'www.' and port ('' when there is none)."""
    url = (url or "").strip()
    if not url:
        return ""
    if "://" not in url:
        url = "http://" + url
    try:
        netloc = urlsplit(url).hostname or ""
    except ValueError:
        return ""
    netloc = netloc.lower().rstrip(".")
    return netloc[4:] if netloc.startswith("www.") else netloc


def site_key(url: str) -> str:
    """Host plus first path segment for shared hosts (facebook.com/x, github.com/x), else the host."""
    h = host(url)
    if h in SHARED_HOSTS:
        if "://" not in url:
            url = "http://" + url
        path = urlsplit(url.strip()).path.strip("/").split("/")[0].lower()
        return f"{h}/{path}" if path else ""
    return h


# Hosts many unrelated organisations share: the host alone is no evidence.
SHARED_HOSTS = frozenset({
    "facebook.com", "twitter.com", "x.com", "github.com", "linkedin.com", "instagram.com",
    "youtube.com", "medium.com", "wordpress.com", "blogspot.com", "google.com", "sites.google.com",
    "meetup.com", "eventbrite.com", "wix.com", "tumblr.com", "europa.eu", "ec.europa.eu",
})


def website_variants(url: str) -> list[str]:
    """Forms a website IRI takes in other datasets: http/https, with/without www, trailing slash."""
    h = host(url)
    if not h or h in SHARED_HOSTS:
        return []
    out = []
    for scheme in ("http", "https"):
        for www in ("", "www."):
            for tail in ("", "/"):
                out.append(f"{scheme}://{www}{h}{tail}")
    return out
