# Apology campaigns live here (channel planning, templates, approval, deliveries).
