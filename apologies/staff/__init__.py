"""Staff preferences: the time zone each marketer reads times in."""
