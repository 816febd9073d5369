"""The people we may contact: contacts, their addresses, and the suppression list (its only writer)."""
