"""Campaigns: planning who gets which channel, the words, approval by a second person, the audit trail."""
