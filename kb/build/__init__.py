"""Building the knowledge base: `dsikb init` from the sources, and the derived graphs."""
