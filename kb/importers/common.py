"""Shared pieces of the importers: triple building, value cleaning (websites, dates, coordinates,
Twitter), name normalisation for matching, places, and the data-quality rules (spam, test entries)."""

from __future__ import annotations

import html
import re
from datetime import date
from html.parser import HTMLParser
from urllib.parse import urlsplit

import pyoxigraph as ox
from anyascii import anyascii

from kb.namespaces import STANDARD_PREFIXES as P
from kb.slugs import slugify

XSD = P["xsd"]
RDF_TYPE = ox.NamedNode(P["rdf"] + "type")
TRUE = ox.Literal("true", datatype=ox.NamedNode(XSD + "boolean"))


def std(prefixed: str) -> ox.NamedNode:
    """``"rdfs:label"`` -> NamedNode, from the project's prefix map."""
    prefix, local = prefixed.split(":", 1)
    return ox.NamedNode(P[prefix] + local)


class Builder:
    """Collects the triples of one import as a set (so repeated statements are written once)."""

    def __init__(self, names):
        self.names = names
        self.triples: set[ox.Triple] = set()

    def dsi(self, term: str) -> ox.NamedNode:
        return ox.NamedNode(self.names.dsi(term))

    def concept(self, scheme: str, slug: str) -> ox.NamedNode:
        return ox.NamedNode(self.names.concept(scheme, slug))

    def add(self, s, p, o) -> None:
        s = ox.NamedNode(s) if isinstance(s, str) else s
        p = std(p) if isinstance(p, str) and ":" in p and not p.startswith("http") else p
        p = self.dsi(p) if isinstance(p, str) else p
        self.triples.add(ox.Triple(s, p, o))

    def text(self, s, p, value: str | None, lang: str | None = None) -> None:
        value = clean_text(value)
        if value:
            self.add(s, p, ox.Literal(value, language=lang) if lang else ox.Literal(value))

    def typed(self, s, p, value: str, datatype: str) -> None:
        self.add(s, p, ox.Literal(value, datatype=ox.NamedNode(XSD + datatype)))

    def link(self, s, p, iri: str) -> None:
        self.add(s, p, ox.NamedNode(iri))

    def place(self, country: str | None, city: str | None = None, *,
              labelled=lambda iri: False) -> tuple[str | None, str | None]:
        """IRIs of the country and city Places (described in this graph), from their names.

        ``labelled(iri)`` says a higher-precedence graph already names that place."""
        country = clean_text(country)
        city = clean_text(city)
        country_iri = city_iri = None
        if country:
            country_iri = self.names.entity("place", slugify(country))
            self.add(country_iri, RDF_TYPE, self.dsi("Place"))
            if not labelled(country_iri):
                self.place_label(country_iri, country, lang="en")
        if city and not _is_junk_place(city):
            slug = slugify(city) + ("-" + slugify(country) if country else "")
            city_iri = self.names.entity("place", slug)
            self.add(city_iri, RDF_TYPE, self.dsi("Place"))
            if not labelled(city_iri):
                self.place_label(city_iri, place_name(city))
            if country_iri:
                self.link(city_iri, "country", country_iri)
        return country_iri, city_iri

    def place_label(self, iri: str, name: str, lang: str | None = None) -> None:
        """One label per place and graph: the first spelling met (rows spell one city many ways)."""
        labelled = self.__dict__.setdefault("_place_labels", set())
        if iri not in labelled:
            labelled.add(iri)
            self.add(iri, "rdfs:label", ox.Literal(name, language=lang) if lang else ox.Literal(name))


_LOWER_PARTICLES = {"upon", "under", "on", "sur", "de", "del", "la", "le", "les", "am", "an", "der",
                    "en", "di", "da", "y", "i"}


def place_name(text: str) -> str:
    """A place name as people write it: 'AMSTERDAM', 'paris' and 'PAris' become 'Amsterdam', 'Paris'."""
    letters = [c for c in text if c.isalpha()]
    shouting_or_flat = letters and (all(c.isupper() for c in letters) or all(c.islower() for c in letters))

    def fix(match: re.Match) -> str:
        word = match.group(0)
        if shouting_or_flat:
            if word.lower() in _LOWER_PARTICLES and match.start() > 0:
                return word.lower()
            return word[0].upper() + word[1:].lower()
        if re.fullmatch(r"[A-Z]{2}[a-z]+", word):  # a caps-lock slip: 'PAris'
            return word[0] + word[1:].lower()
        return word

    return re.sub(r"[^\W\d_]+", fix, text)


def _is_junk_place(text: str) -> bool:
    return not re.search(r"[A-Za-z\u00c0-\uffff]", text) or looks_random(text)


def clean_text(value) -> str:
    """Trimmed text with inner whitespace runs in one line collapsed; '' for None/placeholders."""
    if value is None:
        return ""
    text = str(value).replace("\r\n", "\n").strip()
    if text in {"-", "--", "n/a", "N/A", "null", "None"}:
        return ""
    return "\n".join(re.sub(r"[ \t]+", " ", line).strip() for line in text.split("\n")).strip()


class _Text(HTMLParser):
    """Collects the text of an HTML fragment; block elements and <br> become line breaks."""

    BLOCKS = {"p", "div", "br", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote",
              "section", "header", "tr"}
    SKIP = {"script", "style", "iframe"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag, attrs):
        if tag in self.SKIP:
            self.skipping += 1
        elif tag in self.BLOCKS:
            self.parts.append("\n")
        if tag == "li":
            self.parts.append("- ")

    def handle_endtag(self, tag):
        if tag in self.SKIP:
            self.skipping = max(0, self.skipping - 1)
        elif tag in self.BLOCKS and tag != "li":
            self.parts.append("\n")

    def handle_data(self, data):
        if not self.skipping:
            self.parts.append(data)


def plain_text(value) -> str:
    """Text of a description that may hold HTML (DSI4EU's editor): tags out, entities decoded,
    paragraphs kept as blank-line-separated lines."""
    text = clean_text(value)
    if not text:
        return ""
    if "<" in text:
        parser = _Text()
        parser.feed(text)
        parser.close()
        text = "".join(parser.parts)
    text = html.unescape(text).replace("\xa0", " ")
    lines = [re.sub(r"[ \t]+", " ", line).strip() for line in text.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def norm(text: str | None) -> str:
    """Matching key of a label: casefold, strip accents, punctuation collapsed to single spaces."""
    ascii_text = anyascii(text or "").casefold().replace("&", " and ")
    return " ".join(re.sub(r"[^a-z0-9]+", " ", ascii_text).split())


def website(raw: str | None) -> tuple[str | None, str | None]:
    """(IRI, problem): ``www.waag.org`` -> ``http://www.waag.org/``; junk -> (None, reason)."""
    text = clean_text(raw)
    if not text:
        return None, None
    candidate = text if re.match(r"^https?://", text, re.I) else "http://" + text
    candidate = candidate.replace(" ", "")
    try:
        parts = urlsplit(candidate)
    except ValueError:
        return None, f"not a web address: {text!r}"
    host = (parts.hostname or "").lower()
    if not re.match(r"^([a-z0-9]([a-z0-9-]*[a-z0-9])?\.)+[a-z]{2,}$", host):
        return None, f"not a web address: {text!r}"
    path = parts.path or "/"
    iri = f"{parts.scheme.lower()}://{host}{(':' + str(parts.port)) if parts.port else ''}{path}"
    if parts.query:
        iri += "?" + parts.query
    if re.search(r"[\s<>\"{}|\\^`]", iri):
        return None, f"not a web address: {text!r}"
    return iri, None


def host_of(iri: str | None) -> str:
    """Website host without ``www.``, for matching."""
    if not iri:
        return ""
    host = (urlsplit(iri).hostname or "").lower()
    return host[4:] if host.startswith("www.") else host


def twitter(raw: str | None) -> str | None:
    """A Twitter handle without ``@`` or URL, or None."""
    text = clean_text(raw)
    if not text:
        return None
    text = re.sub(r"^(https?://)?(www\.)?twitter\.com/", "", text, flags=re.I).lstrip("@").strip("/")
    return text if re.fullmatch(r"[A-Za-z0-9_]{1,15}", text) else None


PLACEHOLDER_DATES = {"1970-01-01", "0000-00-00"}


def iso_date(raw) -> tuple[str | None, str | None]:
    """(xsd:date lexical form, problem) of ``YYYY-MM-DD`` or ``M/D/YYYY`` text."""
    text = clean_text(raw)
    if not text:
        return None, None
    if text in PLACEHOLDER_DATES:
        return None, "placeholder-date"
    m = re.fullmatch(r"(\d{4})-(\d{1,2})-(\d{1,2})", text) or None
    try:
        if m:
            value = date(int(m[1]), int(m[2]), int(m[3]))
        else:
            m = re.fullmatch(r"(\d{1,2})/(\d{1,2})/(\d{4})", text)
            if not m:
                return None, f"not a date: {text!r}"
            value = date(int(m[3]), int(m[1]), int(m[2]))
    except ValueError:
        return None, f"not a date: {text!r}"
    return value.isoformat(), None


def coordinates(lat, long) -> tuple[tuple[str, str] | None, str | None]:
    """((lat, long) as xsd:decimal text, problem); (0, 0) and out-of-range pairs are impossible."""
    if lat in (None, "") or long in (None, ""):
        return None, None
    try:
        la, lo = float(lat), float(long)
    except (TypeError, ValueError):
        return None, f"not numbers: {lat!r}, {long!r}"
    if not (-90 <= la <= 90 and -180 <= lo <= 180) or (la == 0 and lo == 0):
        return None, f"impossible coordinates: {lat}, {long}"
    return (_decimal(la), _decimal(lo)), None


def _decimal(x: float) -> str:
    """Canonical xsd:decimal text (as Oxigraph returns it, so re-imports compare equal)."""
    text = f"{x:.7f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


EUROPE = {
    "albania", "andorra", "armenia", "austria", "azerbaijan", "belarus", "belgium",
    "bosnia and herzegovina", "bulgaria", "croatia", "cyprus", "czech republic", "czechia", "denmark",
    "estonia", "finland", "france", "georgia", "germany", "greece", "hungary", "iceland", "ireland",
    "italy", "kosovo", "latvia", "liechtenstein", "lithuania", "luxembourg",
    "macedonia the former yugoslav republic of", "north macedonia", "malta", "moldova republic of",
    "moldova", "monaco", "montenegro", "netherlands", "norway", "poland", "portugal", "romania",
    "russian federation", "russia", "san marino", "serbia", "slovakia", "slovenia", "spain", "sweden",
    "switzerland", "turkey", "ukraine", "united kingdom", "holy see vatican city state", "gibraltar",
    "faroe islands", "jersey", "guernsey", "isle of man", "aland islands",
}


def outside_europe(country: str | None) -> bool:
    return bool(clean_text(country)) and norm(country) not in EUROPE


# -- data quality -----------------------------------------------------------------------------
_SPAM = re.compile(
    r"\bessays?\b|essay\w*\.com|\bessay|writing (service|help)|\bassignment\b|dissertation|"
    r"lab report writing|\bseo\b|\bloans?\b|resource generator|unblocked games|casino|viagra|payday|"
    r"escort|replica watches|\bpills?\b|designing company|dermatology|pompy hydrauliczne|"
    r"^\d+ (things|ways|tips)\b|ways to turn .* into cash|^tips on |\w\?\w+\?\w", re.I)
_TEST = re.compile(r"^((project )?(test|prova)\d*(ing)?( (org(anisation|anization)?|project))?|x+|"
                   r"asdf\w*|qwert\w*|dummy|lorem ipsum.*|sample|aaa+|abc|foo|bar|temp)$", re.I)


def looks_random(text: str) -> bool:
    """Keyboard-mash text such as ``CJEIZlevzo``: a long letter run mixing case without word shape."""
    for token in re.findall(r"[A-Za-z]{5,}", text or ""):
        if re.search(r"[a-z][A-Z]", token) and not re.fullmatch(r"([A-Z]?[a-z]+)+([A-Z]+)?", token):
            return True
        if re.fullmatch(r"[A-Z]{3,}[a-z]{4,}", token) and not re.fullmatch(r"[A-Z]{2,}s", token):
            return True
    return False


def quality_issues(name: str, *, site: str | None = None, extra: tuple[str, ...] = ()) -> list[str]:
    """Hiding quality issues of a record: ``spam``, ``test-entry``, ``no-name`` or
    ``placeholder-name`` (slugs of the quality-issue scheme); :func:`placeholder_name` says which
    placeholder rule fired."""
    label = clean_text(name)
    issues = []
    if not label or not re.search(r"[^\W_]", label):
        issues.append("no-name")
    elif _TEST.fullmatch(norm(label)):
        issues.append("test-entry")
    elif _SPAM.search(label) or _SPAM.search(site or ""):
        issues.append("spam")
    elif sum(looks_random(x) for x in (label, *extra) if x) >= 2:
        issues.append("test-entry")
    elif placeholder_name(label, site=site):
        issues.append("placeholder-name")
    return issues


# -- placeholders: what people typed to get past a required field ------------------------------
_ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm")
FILLER_WORDS = frozenset("""
yes no none nothing null nil na n a unknown blah bla bleh meh tbd tba todo tes tst ok okay hello hi
name organisation organization project company city town place country somewhere nowhere
""".split()) | {"n a", "no name", "not applicable", "to do"}
# Given names that the 2013 form received as organisation names ("adam", "Bob"); only a name that is
# nothing but one of these, with no website, counts.
FIRST_NAMES = frozenset("""
adam alan alex alice amy andrea andrew angela anna anne ben bob carlos charlie chris claire daniel
david emma eva george hans helen ian jack james jan jane jean john jose juan julia kate laura lisa
lucas luis maria mark marie mary matt michael mike nick olivia paul pedro peter pierre robert sam
sara sarah simon sophie steve thomas tom
""".split())


def keyboard_fragment(word: str) -> bool:
    """``adf``, ``qwe``, ``jkl``: 2-5 lower-case letters walking along one keyboard row."""
    if not re.fullmatch(r"[a-z]{2,5}", word):
        return False
    for row in _ROWS:
        if all(c in row for c in word):
            pos = [row.index(c) for c in word]
            steps = [b - a for a, b in zip(pos, pos[1:])]
            if all(0 < s <= 2 for s in steps) or all(-2 <= s < 0 for s in steps):
                return True
    return False


def placeholder(text: str | None) -> str | None:
    """Which placeholder rule a name or place breaks (``single letter``, ``repeated letters``,
    ``keyboard fragment``, ``filler word``), or None."""
    raw = clean_text(text)
    key = norm(raw)
    compact = key.replace(" ", "")
    if not compact:
        return None
    if len(compact) == 1:
        return "single letter"
    if re.search(r"([a-z])\1\1", compact) and len(set(compact)) <= 2 or re.fullmatch(r"([a-z])\1+", compact):
        return "repeated letters"
    if keyboard_fragment(raw):
        return "keyboard fragment"
    if re.fullmatch(r"[a-z]{4,}", raw) and (not re.search(r"[aeiouy]", raw) or len(set(raw)) * 2.5 <= len(raw)):
        return "keyboard mash"  # 'qdsfds', 'basbbabbdb': lower case, no vowel or a few letters repeated
    if key in FILLER_WORDS:
        return "filler word"
    return None


def placeholder_place(text: str | None) -> str | None:
    """Which placeholder rule a city name breaks (a :func:`placeholder` rule or ``test entry``)."""
    return placeholder(text) or ("test entry" if clean_text(text) and _TEST.fullmatch(norm(text)) else None)


def placeholder_name(name: str | None, *, site: str | None = None) -> str | None:
    """Why a record's name is a placeholder rather than the name of an organisation or project:
    a :func:`placeholder` rule, or ``first name alone`` (a bare given name and no website)."""
    rule = placeholder(name)
    if rule:
        return rule
    if re.fullmatch(r"[a-z]{2}", clean_text(name)):  # 'ma'; acronyms are written in capitals
        return "two lower-case letters"
    if not site and norm(name) in FIRST_NAMES and " " not in clean_text(name):
        return "first name alone"
    return None
