"""Table columns by meaning: which column holds the item, its owner, its due date, its status…

Action logs, risk registers and decision logs are tables with every header wording people
use ("What / Who / When", "Item / Assignee / Deadline", "Risk / Likelihood / Impact / Owner").
The extractors ask this module which column plays which role.
"""

from __future__ import annotations

import re

_COLUMN_ROLES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("id", re.compile(r"(?:id|#|no\.?|ref(?:erence)?|risk id|item no\.?|key)")),
    ("likelihood", re.compile(r".*\b(?:likelihood|probability|prob\.?|chance)\b.*")),
    ("impact", re.compile(r".*\b(?:impact|consequence|effect)\b.*")),
    (
        "severity",
        re.compile(r".*\b(?:severity|rating|risk level|score|rag|exposure|priority|prio)\b.*"),
    ),
    ("category", re.compile(r"(?:risk )?(?:category|type|area|class|theme)")),
    (
        "owner",
        re.compile(
            r".*\b(?:owners?|responsible|assigned(?: to)?|assignees?|who|lead|driver|dri"
            r"|accountable|person)\b.*"
        ),
    ),
    ("due", re.compile(r".*\b(?:due|deadline|target date|target|by when|when|date|eta)\b.*")),
    ("status", re.compile(r"status|state|progress|done\??|complete\??|open/closed")),
    ("mitigation", re.compile(r".*\b(?:mitigation|response|treatment|contingency|plan)\b.*")),
    (
        "text",
        re.compile(
            r".*\b(?:risks?|descriptions?|issues?|actions?|action items?|tasks?|items?|decisions?"
            r"|titles?|details?|milestones?|events?|what|next steps?|to-?dos?|follow[- ]?ups?"
            r"|deliverables?|summary|name|activity|activities|topic|blockers?|concerns?"
            r"|stor(?:y|ies)|tickets?|features?|epics?)\b.*"
        ),
    ),
    # A register's own task column ("Risk | … | Action | Action owner | Target date").
    (
        "action",
        re.compile(
            r"(?:planned |agreed |next )?(?:actions?|action items?|next steps?|to-?dos?"
            r"|follow[- ]?ups?|actions? (?:required|planned|agreed|to take))"
        ),
    ),
)
# Values of a RAID log's type column that make the row a risk.
RISK_TYPES = frozenset(
    "risk risks issue issues blocker blockers dependency dependencies concern threat".split()
)
_DONE_STATUS = re.compile(
    r"^(?:done|closed|complete|completed|cancell?ed|resolved|finished|fixed|merged|shipped"
    r"|delivered|yes|y|x|✓|✔|✅|100\s*%)\b",
    re.IGNORECASE,
)


def column_roles(header: list[str]) -> dict[str, int]:
    """Role → column index, from the header cells' words (first column wins per role)."""
    roles: dict[str, int] = {}
    for index, cell in enumerate(header):
        name = cell.lower().strip(" :*_")
        for role, pattern in _COLUMN_ROLES:
            if role not in roles and pattern.fullmatch(name):
                roles[role] = index
                break
    return roles


def is_done_status(value: str | None) -> bool:
    return bool(value and _DONE_STATUS.match(value.strip()))
