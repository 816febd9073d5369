"""Feedback: ESP tracking events and replies, matched to deliveries and classified."""
