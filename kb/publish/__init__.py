"""Publishing: entity descriptions, dumps, VoID, the ontology document, schema.org and figures."""
