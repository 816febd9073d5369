"""The privacy room: GDPR access (export) and erasure of one person, hashed never-again entries, and retention."""
