"""The way back: the public sorry page, personal pages, consent and one-click unsubscribe."""
