"""Per-organization load counters in Redis, for the platform admins' load view (issue 13 §4).

**What is counted**, per organization and minute: requests, refusals (429), uploaded files
(sent and admitted by the limiter, less those the upload then refused), documents processed,
processing seconds (kept in milliseconds) and documents parked (waiting for a worker slot).

**Where it is written.** Nothing here adds a Redis round trip to a request: the limiter's one
``EVALSHA`` (webapp/ratelimit.py) increments the request figures in the same script, and the
workers' fairness scripts (workers/fairness.py) the processing figures in the calls they make
anyway. Each web process also adds the organization to the set of active organizations once a
minute, pipelined with that same call (one write, one wait).

**Key layout** (every key of one script in one Redis Cluster hash slot: the ``{org id}`` tag):

- ``pmdi:{<org id>}:load:<epoch hour>``: a hash per organization and hour, fields
  ``<minute 00-59>:<figure letter>``; expires 24 h after the hour ends, so every minute is
  kept at least 24 h and at most 25 h;
- ``pmdi:{load}:active``: a sorted set, organization id -> last active epoch minute (trimmed
  to the last 24 h when read): which organizations the view reads.

The view reads 25 hashes for one organization's day, and two per active organization for
the top of the last hour (pipelined: one round trip each).
"""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from markupsafe import Markup, escape

# Figure letter -> (name, label). Processing time is counted in milliseconds.
FIGURES: dict[str, tuple[str, str]] = {
    "r": ("requests", "Requests"),
    "x": ("refusals", "Refusals (429)"),
    "u": ("uploads", "Uploads"),
    "d": ("processed", "Documents processed"),
    "s": ("processing_seconds", "Processing seconds"),
    "p": ("parked", "Documents parked"),
}
NAMES = tuple(name for name, _ in FIGURES.values())
LETTER = {name: letter for letter, (name, _) in FIGURES.items()}
KEEP_SECONDS = 24 * 3600
ACTIVE_KEY = "pmdi:{load}:active"


def org_tag(org_id: uuid.UUID | str) -> str:
    """The start of every key of one organization: one hash slot in a Redis Cluster."""
    return f"pmdi:{{{org_id}}}"


def load_key(org_id: uuid.UUID | str, hour: int) -> str:
    """The organization's counters of one epoch hour."""
    return f"{org_tag(org_id)}:load:{hour}"


@dataclass(frozen=True)
class Slot:
    """Where a moment's counts go: the hour's key, the minute's field prefix, the expiry."""

    hour: int
    minute: str  # "00".."59"
    expire_at: int  # epoch seconds: 24 h after the hour ends
    epoch_minute: int


def slot(now: float | None = None) -> Slot:
    """The counters' slot of ``now`` (epoch seconds)."""
    now = time.time() if now is None else now
    epoch_minute = int(now // 60)
    last = _last_slot
    if last.epoch_minute == epoch_minute:
        return last
    return _slot_of(epoch_minute)


def _slot_of(epoch_minute: int) -> Slot:
    global _last_slot
    hour = epoch_minute // 60
    expire_at = (hour + 1) * 3600 + KEEP_SECONDS
    made = _last_slot = Slot(hour, f"{epoch_minute % 60:02d}", expire_at, epoch_minute)
    return made


_last_slot = Slot(0, "00", 0, -1)  # the slot of the last minute asked for (one a minute)


class ActiveOrganizations:
    """This process's note of organizations already marked active this minute."""

    def __init__(self) -> None:
        self._minute = -1
        self._seen: set[str] = set()

    def first_this_minute(self, org_id: str, epoch_minute: int) -> bool:
        """True once per organization and minute (then the caller marks it active)."""
        if epoch_minute != self._minute:
            self._minute, self._seen = epoch_minute, set()
        if org_id in self._seen:
            return False
        self._seen.add(org_id)
        return True


# --- Reading (the admin view and ``flask admin top``) --------------------------------------


@dataclass
class Series:
    """One organization's figures, minute by minute, oldest first."""

    org_id: str
    start_minute: int  # epoch minute of the first value
    values: dict[str, list[int]]  # figure name -> one value per minute

    def total(self, name: str) -> float:
        """The figure summed (processing time in seconds)."""
        total = sum(self.values[name])
        return total / 1000 if name == "processing_seconds" else total


def _hours(start_minute: int, end_minute: int) -> list[int]:
    return list(range(start_minute // 60, end_minute // 60 + 1))


def read_series(
    client: Any, org_ids: Sequence[str], minutes: int, now: float | None = None
) -> list[Series]:
    """The last ``minutes`` minutes of each organization (one pipelined round trip)."""
    now = time.time() if now is None else now
    end = int(now // 60)
    start = end - minutes + 1
    hours = _hours(start, end)
    pipe = client.pipeline(transaction=False)
    for org_id in org_ids:
        for hour in hours:
            pipe.hgetall(load_key(org_id, hour))
    replies = pipe.execute() if org_ids else []
    result = []
    for index, org_id in enumerate(org_ids):
        values = {name: [0] * minutes for name in NAMES}
        for offset, hour in enumerate(hours):
            for field, value in replies[index * len(hours) + offset].items():
                minute_text, _, letter = _text(field).partition(":")
                position = hour * 60 + int(minute_text) - start
                if 0 <= position < minutes and letter in FIGURES:
                    values[FIGURES[letter][0]][position] += int(value)
        result.append(Series(org_id, start, values))
    return result


def active_organizations(client: Any, minutes: int, now: float | None = None) -> list[str]:
    """Organizations active in the last ``minutes`` minutes (older entries are dropped)."""
    now = time.time() if now is None else now
    end = int(now // 60)
    client.zremrangebyscore(ACTIVE_KEY, "-inf", end - KEEP_SECONDS // 60)
    return [_text(m) for m in client.zrangebyscore(ACTIVE_KEY, end - minutes + 1, "+inf")]


@dataclass(frozen=True)
class TopRow:
    """One organization's totals over the period."""

    org_id: str
    totals: dict[str, float]
    series: Series


def top(client: Any, minutes: int = 60, now: float | None = None) -> list[TopRow]:
    """Every organization active in the last ``minutes``, with its totals (unsorted)."""
    org_ids = active_organizations(client, minutes, now)
    return [
        TopRow(s.org_id, {name: s.total(name) for name in NAMES}, s)
        for s in read_series(client, org_ids, minutes, now)
    ]


def ranked(rows: Iterable[TopRow], name: str, count: int = 10) -> list[TopRow]:
    """The ``count`` rows with the most of figure ``name`` (ties by id), zeros left out."""
    chosen = [row for row in rows if row.totals[name] > 0]
    return sorted(chosen, key=lambda row: (-row.totals[name], row.org_id))[:count]


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


# --- Charts --------------------------------------------------------------------------------


def bucketed(values: Sequence[int], buckets: int) -> list[int]:
    """``values`` summed into ``buckets`` equal runs (a day's minutes into 96 quarter hours)."""
    size = max(1, math.ceil(len(values) / buckets))
    return [sum(values[i : i + size]) for i in range(0, len(values), size)]


def svg_chart(values: Sequence[float], label: str, width: int = 240, height: int = 48) -> Markup:
    """A small bar chart as inline SVG (no script), with a text alternative."""
    peak = max(values, default=0) or 1
    count = max(1, len(values))
    bar = width / count
    bars = []
    for index, value in enumerate(values):
        if value <= 0:
            continue
        h = max(1.0, value / peak * (height - 2))
        bars.append(
            f'<rect x="{index * bar:.2f}" y="{height - h:.2f}" width="{max(bar - 0.5, 0.5):.2f}" '
            f'height="{h:.2f}"/>'
        )
    title = escape(f"{label}: peak {max(values, default=0):g}, total {sum(values):g}")
    return Markup(
        f'<svg class="load-chart" role="img" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg">'
        f'<title>{title}</title><rect class="frame" x="0" y="0" width="{width}" '
        f'height="{height}" fill="none"/>'
        f'<g fill="currentColor">{"".join(bars)}</g></svg>'
    )
