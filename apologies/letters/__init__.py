"""Printed letters: gifts and stock, paper geometry and fonts, WeasyPrint layout, batches and returns."""
