"""What people type, read as they mean it, and every problem said in plain words next to its field.

``normalise(data)`` turns a JSON-shape submission as people fill it in (comma decimals, a website
without a scheme, a type given as a one-item list, dates as 31/12/2024) into the schema's shape and
returns the problems it found; ``schema_result`` and ``shacl_result`` say a jsonschema error or a
SHACL result in words a person can act on (no IRIs, no JSON, no vocabulary terms).
"""

from __future__ import annotations

import datetime
import math
import re
from urllib.parse import urlsplit

from kb.errors import Unprocessable

LABELS = {
    "type": "what you are adding", "entity": "entry to change", "name": "name", "website": "website",
    "shortDescription": "short description", "description": "description", "country": "country",
    "city": "city", "latitude": "latitude", "longitude": "longitude", "startDate": "start date",
    "endDate": "end date", "organisationType": "type of organisation", "organisationSize": "size of organisation",
    "activityType": "type of activity", "areasOfSociety": "areas of society", "dsiAreas": "DSI areas",
    "technologyFocus": "technology trends", "technologyMethod": "technology methods",
    "supportTypes": "types of support", "tags": "tags", "twitter": "Twitter handle", "partners": "partners",
    "submitter": "about you", "withdraw": "entry", "reason": "reason",
}
SINGLE_CONCEPTS = ("organisationType", "organisationSize", "activityType")
LIST_CONCEPTS = ("areasOfSociety", "dsiAreas", "technologyFocus", "technologyMethod", "supportTypes")
TEXTS = ("name", "shortDescription", "description", "city", "country", "twitter", "entity")
RANGES = {"latitude": 90, "longitude": 180}
_UNSAFE = re.compile(r"[{}\[\]<>\"\\]|://|^\w+:\S|[\x00-\x1f\x7f]")


class Problems(Unprocessable):
    """One or more fields are unusable: a 422 whose ``results`` say which and why, in words."""

    def __init__(self, results: list[dict]):
        super().__init__("please check these fields: " + "; ".join(
            f"{LABELS.get(r['field'], r['field'])}: {r['message']}" for r in results)[:2000])
        self.results = results


def problem(field: str, message: str, severity: str = "Violation") -> dict:
    return {"field": field, "path": field, "severity": severity, "message": message}


def typed(value) -> str:
    """'; you typed X' when X can be shown safely in a message (short, no brackets, no address)."""
    if isinstance(value, float):
        text = f"{value:g}"
    else:
        text = str(value).strip()
    if not text or len(text) > 60 or _UNSAFE.search(text):
        return ""
    return f"; you typed {text}"


def kind_word(data) -> str:
    return "project" if isinstance(data, dict) and data.get("type") == "project" else "organisation"


# -- reading what people type ------------------------------------------------------------------
def normalise(data) -> list[dict]:
    """Bring a submission into the schema's shape in place; the problems found on the way."""
    out: list[dict] = []
    if not isinstance(data, dict) or "withdraw" in data:
        return out
    for key in TEXTS + ("website", "startDate", "endDate"):
        if isinstance(data.get(key), str):
            data[key] = re.sub(r"\s+", " ", data[key]).strip() if key != "description" else data[key].strip()
            if not data[key] and key != "name":
                del data[key]
    if isinstance(data.get("description"), str) and not data["description"]:
        del data["description"]
    for key in SINGLE_CONCEPTS:
        value = data.get(key)
        if isinstance(value, list) and all(isinstance(v, str) for v in value):  # else the schema says
            values = [v.strip() for v in value if v.strip()]
            if len(values) == 1:
                data[key] = values[0]
            elif not values:
                del data[key]
            else:
                out.append(problem(key, f"Choose one {LABELS[key]}, not {len(values)}"))
        elif isinstance(value, str) and not value.strip():
            del data[key]
    for key in LIST_CONCEPTS:
        value = data.get(key)
        if isinstance(value, str):
            data[key] = [value] if value.strip() else []
        if isinstance(data.get(key), list) and all(isinstance(v, str) for v in data[key]):
            data[key] = list(dict.fromkeys(v.strip() for v in data[key] if v.strip()))
    if isinstance(data.get("website"), str):
        site, message = website(data["website"])
        if message:
            out.append(problem("website", message))
        else:
            data["website"] = site
    for key, limit in RANGES.items():
        if key in data:
            value, message = coordinate(key, data[key], limit)
            if message:
                out.append(problem(key, message))
            elif value is None:
                del data[key]
            else:
                data[key] = value
    for key in ("startDate", "endDate"):
        if isinstance(data.get(key), str):
            value, message = date(key, data[key])
            if message:
                out.append(problem(key, message))
            else:
                data[key] = value
    start, end = data.get("startDate"), data.get("endDate")
    if (isinstance(start, str) and isinstance(end, str) and not any(p["field"] in ("startDate", "endDate") for p in out)
            and end < start and len(start) == len(end)):
        out.append(problem("endDate", "The end date is before the start date: swap them or correct one"))
    return out


def website(text: str) -> tuple[str, str]:
    """(normalised address, '') or ('', why): ``www.x.org`` and ``x.org/path`` get ``https://``."""
    site = text.strip()
    if site and "://" not in site and re.fullmatch(r"[^\s/:@]+\.[^\s/:@]+(:\d+)?(/\S*)?", site):
        site = "https://" + site
    try:
        parts = urlsplit(site)
        host = parts.hostname or ""
    except ValueError:
        parts, host = None, ""
    good = (parts is not None and parts.scheme in ("http", "https") and "." in host and not re.search(r"\s", site)
            and re.fullmatch(r"[\w.-]+", host) and not host.startswith(".") and not host.endswith("."))
    if not good:
        return "", "Give the website's address, such as www.example.org" + typed(text)
    site = parts._replace(scheme=parts.scheme.lower(), netloc=parts.netloc.lower(), path=parts.path or "/").geturl()
    return site, ""


def coordinate(key: str, value, limit: int) -> tuple[float | None, str]:
    """A latitude or longitude from a number or from text such as '52,37' or ' 4.89 '."""
    label = LABELS[key].capitalize()
    example = "52.37" if key == "latitude" else "4.89"
    if value is None or (isinstance(value, str) and not value.strip()):
        return None, ""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return None, f"{label} must be a number such as {example}"
    number = value
    if isinstance(value, str):
        text = value.strip().replace("\u2212", "-")
        if re.fullmatch(r"[+-]?\d+,\d+", text):
            text = text.replace(",", ".")
        if not re.fullmatch(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d{1,4})?", text):
            return None, f"{label} must be a number such as {example}" + typed(value)
        number = float(text)
    if not math.isfinite(number) or not -limit <= number <= limit:
        return None, f"{label} must be between -{limit} and {limit}" + typed(value)
    return float(number), ""


DATE_FORMATS = ("%Y-%m-%d", "%d/%m/%Y", "%d.%m.%Y", "%d-%m-%Y")


def date(key: str, text: str) -> tuple[str, str]:
    """An ISO date or year from what people type (2024-03-01, 1/3/2024, 1.3.2024, 2024)."""
    text = text.strip()
    if re.fullmatch(r"\d{4}", text) and 1000 <= int(text) <= 2999:
        return text, ""
    for fmt in DATE_FORMATS:
        try:
            day = datetime.datetime.strptime(text, fmt).date()
        except ValueError:
            continue
        if 1000 <= day.year <= 2999:
            return day.isoformat(), ""
    return "", (f"The {LABELS[key]} must be a real date such as 2016-03-01, or just the year"
                + typed(text))


# -- saying what is wrong ---------------------------------------------------------------------
def schema_result(error, data) -> dict:
    """A jsonschema error as a plain message on the top-level field it concerns."""
    path = [p for p in error.absolute_path]
    kind = kind_word(data)
    if error.validator == "required":
        missing = re.findall(r"'([^']+)' is a required property", error.message)
        field = (str(path[0]) if path else (missing[0] if missing else "name"))
        if path and path[0] == "partners":
            return problem("partners", "Choose each partner from the suggestions")
        if field == "name":
            return problem("name", f"Give the {kind}'s name")
        if field == "type":
            return problem("type", "Choose what you are adding: an organisation or a project")
        return problem(field, f"Give the {LABELS.get(field, field)}")
    if error.validator == "additionalProperties":
        extra = re.findall(r"'([^']+)' (?:was|were) unexpected", error.message)
        names = ", ".join(e for e in extra if not _UNSAFE.search(e) and len(e) <= 60) or "This"
        field = str(path[0]) if path else (extra[0] if extra else "(top level)")
        return problem(field, f"{names} is not a field of a submission: leave it out "
                              "(the fields are listed in the submission schema)")
    field = str(path[0]) if path else "(top level)"
    label = LABELS.get(field, field)
    value = error.instance
    if field == "name":
        if error.validator == "minLength":
            return problem("name", f"Give the {kind}'s name")
        if error.validator == "maxLength":
            return problem("name", f"The name can have at most 300 characters; you typed {len(value)}")
    if field == "type":
        return problem("type", "Choose what you are adding: an organisation or a project")
    if field in RANGES and error.validator in ("minimum", "maximum"):
        limit = RANGES[field]
        return problem(field, f"{label.capitalize()} must be between -{limit} and {limit}" + typed(value))
    if error.validator == "maxLength":
        return problem(field, f"The {label} can have at most {error.validator_value} characters; "
                              f"you typed {len(value)}")
    if field in SINGLE_CONCEPTS or field in LIST_CONCEPTS:
        return problem(field, f"Choose the {label} from the list")
    if field == "partners":
        if "role" in path:
            return problem("partners", "Choose each partner's role from the list")
        return problem("partners", "Choose each partner from the suggestions")
    if field == "submitter":
        if "email" in path:
            return problem("submitter", "This does not look like an e-mail address: write it as name@example.org")
        return problem("submitter", "Check what you wrote about yourself")
    if field in ("startDate", "endDate"):
        return problem(field, f"The {label} must be a real date such as 2016-03-01, or just the year")
    if field in ("entity", "withdraw"):
        return problem(field, "Choose the entry from the suggestions")
    if error.validator == "type":
        return problem(field, f"Check the {label}: it should be {_kind_of(error.validator_value)}")
    return problem(field, f"Check the {label}: it is not accepted as it is")


def _kind_of(json_type) -> str:
    names = {"string": "text", "number": "a number", "array": "a list", "object": "a group of fields",
             "boolean": "yes or no", "integer": "a whole number"}
    types = json_type if isinstance(json_type, list) else [json_type]
    return " or ".join(names.get(t, "something else") for t in types)


SHACL_PLAIN = {
    "name": "Give the {kind}'s name: the name itself, at most 300 characters",
    "type": "Choose what you are adding: an organisation or a project",
    "website": "Give the website's address, such as www.example.org",
    "city": "Give the name of a city or town",
    "latitude": "Give the latitude and the longitude together, as numbers such as 52.37 and 4.89",
    "longitude": "Give the latitude and the longitude together, as numbers such as 52.37 and 4.89",
    "startDate": "The start date must be a real date such as 2016-03-01, or just the year",
    "endDate": "The end date must be a real date such as 2016-03-01, or just the year",
    "organisationType": "Choose one type of organisation from the list",
    "organisationSize": "Choose one size of organisation from the list",
    "activityType": "Choose the type of activity from the list",
    "areasOfSociety": "Choose at least one area of society from the list",
    "technologyFocus": "Choose at least one technology trend from the list",
    "technologyMethod": "Choose technology methods from the list",
    "dsiAreas": "Choose DSI areas from the list",
    "supportTypes": "Choose types of support from the list",
    "twitter": "Give only the Twitter handle, such as nesta_uk",
    "partners": "Choose each partner from the suggestions, with one of the listed roles",
    "shortDescription": "Check the short description: at most 1,000 characters of text",
    "description": "Check the description: at most 20,000 characters of text",
}


def shacl_result(result: dict, kind: str) -> dict:
    """A SHACL result (kb.submission_validation.results_of) with its message in plain words."""
    field = result["field"]
    if field == "country":
        text = ("Choose the country the organisation is based in" if kind == "organisation"
                else "Choose the country the project takes place in")
    elif field == "endDate" and "before the start date" in result["message"]:
        text = "The end date is before the start date: swap them or correct one"
    elif field in SHACL_PLAIN:
        text = SHACL_PLAIN[field].format(kind=kind)
    else:
        text = f"Check the {LABELS.get(field, field)}: it is not accepted as it is"
    return {**result, "message": text}
