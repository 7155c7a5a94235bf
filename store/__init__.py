"""What a run can reuse: Step-1 descriptions in Chroma, and every other step's answers in a SQLite cache."""
