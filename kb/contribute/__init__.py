"""Contributing: submissions, their JSON and SHACL validation, moderation, overrides, merges, accounts and duplicate detection."""
