"""The JSON API for other tools: token-authenticated, rate-limited, every call in its audit trail."""
