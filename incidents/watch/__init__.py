"""The watch: ESP events of all of a company's sending, counted against rules, raising alerts and draft incidents."""
