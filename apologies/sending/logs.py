"""One log line per fact about a send, carrying its incident, campaign and delivery ids.

Lines read as logfmt in a terminal ("send.batch_sent incident_id=3 campaign_id=7 delivery_ids=12,13 ...")
and carry the same fields under `amends` for a JSON formatter (LOG_FORMAT=json), so an operator can find
every line about one person's apology by its delivery id.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

log = logging.getLogger("amends.send")


def send_log(level: int, event: str, *, campaign, delivery_ids: Iterable[int] = (), **fields) -> None:
    """Log `event` (e.g. "batch_sent") for `campaign` with its ids and any `fields` (counts, errors)."""
    context = {"incident_id": campaign.incident_id, "campaign_id": campaign.id, **fields}
    ids = [int(i) for i in delivery_ids]
    if ids:
        context["delivery_ids"] = ids
    text = " ".join(
        f"{key}={','.join(map(str, value)) if isinstance(value, list) else value}" for key, value in context.items()
    )
    log.log(level, "send.%s %s", event, text, extra={"amends": {"event": event, **context}})
