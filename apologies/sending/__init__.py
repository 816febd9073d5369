"""Sending: exactly once per person, claimed, rate-limited, pausable, through the ESP or the captured outbox."""
