"""One node per pipeline step: describe (1), label (2a), name_clusters (2b), assign (3)."""
