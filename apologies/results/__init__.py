"""Results: what the apology achieved, read-only."""
