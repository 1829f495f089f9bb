"""Finding: search, faceted browse, reconciliation and places."""
