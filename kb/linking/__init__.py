"""Outbound links: a small general linker from our entities to other datasets (Wikidata first)."""
