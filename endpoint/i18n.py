"""The interface's language: English plus Spanish, French, German and Italian (gettext catalogues
under ``endpoint/translations``, Flask-Babel).

The language is chosen per request, never by URL path, so entity URIs stay stable:
``?lang=xx`` (also stored in a cookie, so the choice follows the visitor), then the ``dsikb_lang``
cookie, then the best match of ``Accept-Language``, then English.
"""

from __future__ import annotations

from flask import Flask, request
from flask_babel import Babel


LANGUAGES = ("en", "es", "fr", "de", "it")
LANGUAGE_NAMES = {"en": "English", "es": "Español", "fr": "Français", "de": "Deutsch", "it": "Italiano"}
COOKIE = "dsikb_lang"


def N_(text: str) -> str:  # noqa: N802 - the conventional gettext marker name
    """Marks a string for extraction (``pybabel extract -k N_``) without translating it: code
    that runs outside a request keeps English data; the template translates it (``_(label)``)."""
    return text


# Words that reach templates as data and are translated there (``_(h.type)``): listed here so that
# ``make translations`` extracts them.
RUNTIME_STRINGS = (
    N_("organisation"), N_("project"), N_("activity"), N_("event"), N_("place"), N_("person"),
    N_("delivery lead"), N_("delivery partner"), N_("co funder"), N_("sole funder"), N_("evaluator"),
    N_("advisory group member"), N_("takes part"), N_("Moved Permanently"),
)


def select_locale() -> str:
    chosen = request.args.get("lang")
    if chosen in LANGUAGES:
        return chosen
    cookie = request.cookies.get(COOKIE)
    if cookie in LANGUAGES:
        return cookie
    # by the reader's order of preference, a regional variant counting as its language ("de-AT" is
    # German, before a French q=0.5); Werkzeug's best_match would prefer any exact match first
    for value, quality in request.accept_languages:
        primary = value.split("-", 1)[0].lower()
        if quality > 0 and primary in LANGUAGES:
            return primary
    return "en"


def current_language() -> str:
    from flask_babel import get_locale

    locale = get_locale()
    return locale.language if locale is not None else "en"


def init_app(app: Flask) -> None:
    Babel(app, locale_selector=select_locale, default_translation_directories="translations")

    @app.context_processor
    def _languages():
        return {"LANGUAGES": LANGUAGES, "LANGUAGE_NAMES": LANGUAGE_NAMES, "current_language": current_language}

    @app.after_request
    def _remember_language(response):
        chosen = request.args.get("lang")
        if chosen in LANGUAGES and request.cookies.get(COOKIE) != chosen:
            response.set_cookie(COOKIE, chosen, max_age=365 * 24 * 3600, samesite="Lax", httponly=True)
        # caches must keep one copy per language of a negotiated page
        if response.mimetype == "text/html":
            response.vary.add("Accept-Language")
            response.vary.add("Cookie")
        return response
