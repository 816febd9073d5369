"""Error pages and their log lines: a refused or missing page logs one line, a server error its traceback."""

from __future__ import annotations

import logging


class OneLine4xx(logging.Filter):
    """Drops the traceback Django attaches to a 403 (PermissionDenied) or 404: the line says it all."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "status_code", 500) < 500:
            record.exc_info = None
            record.exc_text = None
        return True
