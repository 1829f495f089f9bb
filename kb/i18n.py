"""Marking strings for translation in code that must not import Flask.

``N_("Area of society")`` returns its argument unchanged; ``pybabel extract -k N_`` (``make
translations``) collects it into the catalogues, and the pages translate it when they show it
(``_(facet.label)`` in a template). Data stays English; only its presentation is translated.
"""

from __future__ import annotations


def N_(text: str) -> str:  # noqa: N802 - the conventional gettext marker name
    return text
