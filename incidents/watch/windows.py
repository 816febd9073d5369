"""The watch's sliding windows in Redis: per person and workflow, per workflow minute, suppressed sends, people hit.

Sorted sets keyed by (ESP, workflow, person) hold each message once (member = message id, score = event
time), so a batch counted twice after a lost worker adds nothing; ZCOUNT over a score range is the
sliding window. Per-minute hashes hold what a workflow sent, for the hourly rules, the page and baselines.
All times are event times (epoch seconds), so a replayed day is judged as it happened.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass

import fakeredis
import redis
from django.conf import settings

# How long the counters outlive their window, in wall-clock seconds: a person's set, a minute's hash.
PERSON_TTL = 1800
MINUTE_TTL = 26 * 3600
PEOPLE_TTL = 6 * 3600
DIRTY = "w:dirty"

_clients: dict[str, redis.Redis] = {}


def redis_client() -> redis.Redis:
    """The watch's Redis (WATCH_REDIS_URL); "fakeredis://" gives an in-process one (tests, a laptop)."""
    url = settings.WATCH_REDIS_URL
    client = _clients.get(url)
    if client is None:
        if url.startswith("fakeredis://"):
            client = fakeredis.FakeRedis(decode_responses=True)
        else:
            client = redis.Redis.from_url(url, decode_responses=True)
        _clients[url] = client
    return client


def person_key(esp: str, workflow: str, person: str) -> str:
    return f"w:p:{esp}:{workflow}:{person}"


def minute_key(esp: str, workflow: str, minute: int) -> str:
    return f"w:m:{esp}:{workflow}:{minute}"


def suppressed_key(esp: str, workflow: str) -> str:
    return f"w:s:{esp}:{workflow}"


def people_key(esp: str, workflow: str) -> str:
    return f"w:pp:{esp}:{workflow}"


def baseline_key(esp: str) -> str:
    return f"w:b:{esp}"


@dataclass(slots=True)
class Sent:
    """One message event to count: who, which workflow, which message, when (epoch seconds)."""

    workflow: str
    person: str
    message: str
    ts: float


# One call per batch: adding each message to its person's window and counting around it, server-side
# (one pipelined command per step cost the worker 6 Redis round-trips of Python per event).
PERSONS_LUA = """
local window = tonumber(ARGV[1])
local ttl = tonumber(ARGV[2])
local out = {}
for i = 3, #ARGV, 3 do
  local key = ARGV[i]
  local ts = tonumber(ARGV[i + 2])
  out[#out + 1] = redis.call('ZADD', key, 'NX', ARGV[i + 2], ARGV[i + 1])
  redis.call('ZREMRANGEBYSCORE', key, '-inf', ts - 2 * window)
  local before = redis.call('ZCOUNT', key, ts - window + 0.001, ts)
  local after = redis.call('ZCOUNT', key, ts, ts + window - 0.001)
  out[#out + 1] = math.max(before, after)
  redis.call('EXPIRE', key, ttl)
end
return out
"""
# Per workflow, the 60 minutes to its latest: messages, complaints, the latest minute's messages, the first
# minute with a complaint, and the first minute sending more than the given messages a minute.
HOUR_LUA = """
local out = {}
for i = 1, #ARGV, 3 do
  local prefix = ARGV[i]
  local last = tonumber(ARGV[i + 1])
  local limit = tonumber(ARGV[i + 2])
  local m, c, latest, first_c, first_m = 0, 0, 0, last, last
  local seen_c, seen_m = false, false
  for minute = last - 59, last do
    local v = redis.call('HMGET', prefix .. minute, 'm', 'c')
    local mm = tonumber(v[1]) or 0
    local cc = tonumber(v[2]) or 0
    m = m + mm
    c = c + cc
    if cc > 0 and not seen_c then first_c = minute; seen_c = true end
    if limit >= 0 and mm > limit and not seen_m then first_m = minute; seen_m = true end
    if minute == last then latest = mm end
  end
  out[#out + 1] = m
  out[#out + 1] = c
  out[#out + 1] = latest
  out[#out + 1] = first_c
  out[#out + 1] = first_m
end
return out
"""


def persons_count(*, esp: str, sent: list[Sent], window: int) -> list[tuple[bool, int, float]]:
    """Add each message to its person's window; for each: (new message?, most in a window around it, its time)."""
    args: list = [window, PERSON_TTL]
    for s in sent:
        args += (person_key(esp, s.workflow, s.person), s.message, repr(s.ts))
    out = redis_client().eval(PERSONS_LUA, 0, *args)
    return [(bool(out[2 * i]), out[2 * i + 1], s.ts) for i, s in enumerate(sent)]


def persons_window_start(*, esp: str, workflow: str, people: dict[str, float], window: int) -> float:
    """Event time of the first message of any of these people's offending windows (person -> offending time)."""
    pipe = redis_client().pipeline(transaction=False)
    for person, ts in people.items():
        pipe.zrangebyscore(person_key(esp, workflow, person), ts - window, ts + window, 0, 1, True)
    starts = [found[0][1] for found in pipe.execute() if found]
    return min(starts, default=min(people.values()))


def people_add(*, esp: str, workflow: str, people: Iterable[str]) -> int:
    """Remember who broke the person rule in this workflow's burst; how many so far."""
    people = list(people)
    r = redis_client()
    pipe = r.pipeline(transaction=False)
    key = people_key(esp, workflow)
    if people:
        pipe.sadd(key, *people)
        pipe.expire(key, PEOPLE_TTL)
    pipe.scard(key)
    return pipe.execute()[-1]


def people_forget(*, esp: str, workflow: str) -> None:
    redis_client().delete(people_key(esp, workflow))


def minutes_add(*, esp: str, counts: dict[tuple[str, int], dict[str, int]]) -> None:
    """Add per (workflow, minute) counts of messages ("m"), complaints ("c") and events ("e")."""
    r = redis_client()
    pipe = r.pipeline(transaction=False)
    for (workflow, minute), fields in counts.items():
        key = minute_key(esp, workflow, minute)
        for field, n in fields.items():
            if n:
                pipe.hincrby(key, field, n)
        pipe.expire(key, MINUTE_TTL)
        pipe.sadd(DIRTY, f"{esp}\x1f{workflow}\x1f{minute}")
    pipe.execute()


def hour_totals(
    *, esp: str, workflows: dict[str, int], limits: dict[str, float] | None = None
) -> dict[str, tuple[int, int, int, int, int]]:
    """Per workflow, its last hour: (messages, complaints, messages in its latest minute, first complaint's minute,
    first minute over its limit of messages a minute)."""
    if not workflows:
        return {}
    limits = limits or {}
    args: list = []
    for workflow, last in workflows.items():
        args += (minute_key(esp, workflow, 0)[:-1], last, repr(float(limits.get(workflow, -1))))
    out = redis_client().eval(HOUR_LUA, 0, *args)
    return {w: tuple(out[5 * i : 5 * i + 5]) for i, w in enumerate(workflows)}


def suppressed_count(*, esp: str, hits: list[tuple[str, str, float]], window: int) -> dict[str, tuple[int, float]]:
    """Add (workflow, message, ts) sends to suppressed addresses; per workflow: (in the window, first ts in it)."""
    r = redis_client()
    pipe = r.pipeline(transaction=False)
    for workflow, message, ts in hits:
        key = suppressed_key(esp, workflow)
        pipe.zadd(key, {message: ts}, nx=True)
        pipe.expire(key, PERSON_TTL)
    pipe.execute()
    latest: dict[str, float] = {}
    for workflow, _, ts in hits:
        latest[workflow] = max(ts, latest.get(workflow, ts))
    result = {}
    for workflow, ts in latest.items():
        key = suppressed_key(esp, workflow)
        n = r.zcount(key, ts - window + 0.001, ts)
        first = r.zrangebyscore(key, ts - window + 0.001, ts, 0, 1, True)
        result[workflow] = (n, first[0][1] if first else ts)
    return result


def baselines(*, esp: str, workflows: Iterable[str]) -> dict[str, tuple[float, int]]:
    """The usual hourly volume of each workflow and over how many hours it was learnt."""
    workflows = list(workflows)
    if not workflows:
        return {}
    values = redis_client().hmget(baseline_key(esp), workflows)
    found = {}
    for workflow, value in zip(workflows, values, strict=True):
        if value:
            hourly, hours = json.loads(value)
            found[workflow] = (float(hourly), int(hours))
    return found


def baselines_all(*, esp: str) -> dict[str, tuple[float, int]]:
    return {w: tuple(json.loads(v)) for w, v in redis_client().hgetall(baseline_key(esp)).items()}


def baselines_set(*, esp: str, values: dict[str, tuple[float, int]]) -> None:
    if values:
        redis_client().hset(baseline_key(esp), mapping={w: json.dumps(v) for w, v in values.items()})


def dirty_minutes_take(*, limit: int) -> list[tuple[str, str, int, dict[str, str]]]:
    """Minutes changed since the last flush, with their totals (absolute, so a flush repeated is harmless)."""
    r = redis_client()
    members = r.spop(DIRTY, limit) or []
    parsed = []
    for member in members:
        esp, workflow, minute = member.split("\x1f")
        parsed.append((esp, workflow, int(minute)))
    pipe = r.pipeline(transaction=False)
    for esp, workflow, minute in parsed:
        pipe.hgetall(minute_key(esp, workflow, minute))
    return [(*p, values) for p, values in zip(parsed, pipe.execute(), strict=True)]
