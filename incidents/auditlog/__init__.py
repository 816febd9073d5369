"""The app-wide audit log: actions that are not model changes (AuditEntry), beside django-auditlog's model changes."""
