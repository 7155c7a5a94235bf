"""Scoring a clustering against known labels, and writing a run's results (JSON, CSV, HTML report)."""
