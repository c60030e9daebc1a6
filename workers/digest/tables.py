"""Table columns by meaning: which column holds the item, its owner, its due date, its status…

Action logs, risk registers and decision logs are tables with every header wording people
use ("What / Who / When", "Item / Assignee / Deadline", "Risk / Likelihood / Impact / Owner").
The extractors ask this module which column plays which role.
"""

from __future__ import annotations

import re

_COLUMN_ROLES: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "id",
        re.compile(
            r"(?:id|#|no\.?|ref(?:erence)?|risk id|item no\.?|key"
            r"|(?:issue|ticket|item) (?:key|id|#|no\.?))"  # an issue tracker's export
        ),
    ),
    ("likelihood", re.compile(r".*\b(?:likelihood|probability|prob\.?|chance)\b.*")),
    ("impact", re.compile(r".*\b(?:impact|consequence|effect)\b.*")),
    (
        "severity",
        re.compile(r".*\b(?:severity|rating|risk level|score|rag|exposure|priority|prio)\b.*"),
    ),
    ("category", re.compile(r"(?:risk |issue |item )?(?:category|type|area|class|theme)")),
    (
        "owner",
        re.compile(
            r".*\b(?:owners?|responsible|assigned(?: to)?|assignees?|who|lead|driver|dri"
            r"|accountable|person)\b.*"
            # "PIC" (person in charge), a tracker's "Members", "Action by"; other languages'
            # words for who: Responsable, Verantwortlich, Zuständig, Encargado, Quién, 担当.
            r"|pic|person in charge|members?|action(?:ed)? by|by whom|poc|point of contact"
            r"|responsables?|respons[aá]vel|verantwortlich(?:e|er)?|zust[aä]ndig(?:e|er)?"
            r"|encargad[oa]s?|qui[eé]n|wer|qui|担当(?:者)?"
        ),
    ),
    (
        "due",
        re.compile(
            # "Who | By": a bare "By" column is when the task is due.
            r"by|by when\??"
            r"|(?!.*\b(?:raised|opened|created|logged|decided|identified|closed|added|submitted"
            r"|reported|updated|start)\b).*\b(?:due|deadline|target date|target|by when|when"
            r"|date|eta)\b.*"
        ),
    ),
    # A board export's list is the card's state ("List Name: Doing / Done").
    (
        "status",
        re.compile(r"status|state|progress|done\??|complete\??|open/closed|list(?: name)?|lane"),
    ),
    ("mitigation", re.compile(r".*\b(?:mitigation|response|treatment|contingency|plan)\b.*")),
    # A decision log's answer column, beside the question it answers ("Decision required").
    (
        "decision",
        re.compile(
            r"(?:final |agreed )?(?:decisions?|resolutions?|decided"
            r"|chosen option|ruling)"
        ),
    ),
    (
        "text",
        re.compile(
            r".*\b(?:risks?|descriptions?|issues?|actions?|action items?|tasks?|items?|decisions?"
            r"|titles?|details?|milestones?|events?|what|next steps?|to-?dos?|follow[- ]?ups?"
            r"|deliverables?|summary|name|activity|activities|topic|blockers?|concerns?"
            r"|stor(?:y|ies)|tickets?|features?|epics?|checks?|checklist items?|criteri(?:on|a)"
            r"|steps?|work ?packages?|goals?|objectives?|questions?)\b.*"
        ),
    ),
    # A register's own task column ("Risk | … | Action | Action owner | Target date").
    (
        "action",
        re.compile(
            r"(?:planned |agreed |next )?(?:actions?|action items?|next steps?|to-?dos?"
            r"|follow[- ]?ups?|actions? (?:required|planned|agreed|to take)"
            r"|(?:follow[- ]?up|resulting|required|open) actions?)"
        ),
    ),
)
# Values of a RAID log's type column that make the row a risk.
RISK_TYPES = frozenset(
    "risk risks issue issues blocker blockers dependency dependencies concern threat".split()
)
_DONE_STATUS = re.compile(
    r"^(?:done|closed|complete|completed|cancell?ed|resolved|finished|fixed|merged|shipped"
    r"|delivered|yes|y|x|✓|✔|✅|100\s*%|superseded|withdrawn|dropped|obsolete|replaced"
    r"|duplicate|won'?t (?:do|fix)|wontfix|not needed|no longer needed)\b",
    re.IGNORECASE,
)


def column_roles(header: list[str]) -> dict[str, int]:
    """Role → column index, from the header cells' words (first column wins per role)."""
    roles: dict[str, int] = {}
    for index, cell in enumerate(header):
        name = cell.lower().strip(" :*_")
        if len(name.split()) > 4 or _STATUS_VALUE.fullmatch(name):
            continue  # a sentence or a status ("Project status | AT RISK"), not a column name
        if "text" in roles and "action" not in roles and _ACTION_FIRST.match(name):
            roles["action"] = index  # "Action / by when" beside a register's risk column
            continue
        # "Statut / Status", "Échéance / Due": a bilingual header names its column twice.
        names = [name, *(n.strip() for n in name.split(" / ")[1:2])] if " / " in name else [name]
        for role, pattern in _COLUMN_ROLES:
            if role not in roles and any(pattern.fullmatch(n) for n in names):
                roles[role] = index
                break
    if "due" in roles and not _STRONG_DUE.search(header[roles["due"]]):
        # "Date | … | Due": a column that says due beats one that only says date.
        strong = next((i for i, c in enumerate(header) if _STRONG_DUE.search(c)), None)
        if strong is not None and strong not in roles.values():
            weak, roles["due"] = roles["due"], strong
            if "owner" not in roles and header[weak].lower().strip(" :*_") == "by":
                roles["owner"] = weak  # "Action | By | Due": who the action is by
    return roles


_STATUS_VALUE = re.compile(r"at risk|on track|off track|red|amber|green|yellow|rag")
_ACTION_FIRST = re.compile(r"(?:planned |agreed |next |follow[- ]?up )?actions?\b(?! owner)")
_STRONG_DUE = re.compile(r"\b(?:due|deadline|target|by when|eta)\b", re.IGNORECASE)


def is_done_status(value: str | None) -> bool:
    if not value:
        return False
    if re.match(r"^\W*[✓✔✅☑]", value):
        return True
    # "✅ done", "⏳ in progress": a status emoji before the word; "Terminé / Done" (bilingual).
    parts = value.split(" / ")[:2]
    return any(_DONE_STATUS.match(re.sub(r"^[^\w(]+", "", p.strip())) for p in parts)


# --------------------------------------------------------------------------------------------
# Tables aligned with spaces (plain text, e-mail bodies, printouts)

_CELL = re.compile(r"\S(?:\S| (?! ))*")
_GAP = re.compile(r"\S {2,}\S|\S\t+\S")
_DASHES = re.compile(r"^[\s=\-:+]+$")
MAX_ALIGNED_ROWS = 400
# A header cell is a column name: short, no digits, no field colon.
_NOT_A_HEADER_CELL = re.compile(r":$|\d|^.{31,}$|^(?:\S+\s+){4,}\S")


def maybe_aligned_header(line: str) -> bool:
    """Cheap test: two or more words separated by a run of spaces (a column gap)."""
    return bool(_GAP.search(line))


def aligned_table(lines: list[str], offset: int) -> tuple[list[str], list[list[str]], int] | None:
    """A table aligned with spaces ("Action      Owner   Due" over rows in the same columns)
    at ``lines[offset]``: (header, rows, lines taken), or None. The header must name at least
    two known columns and at least one row must follow; a row whose first column is empty
    continues the row above (a wrapped cell); a line whose words straddle the columns ends it."""
    header_line = lines[offset].rstrip().expandtabs(4)
    if len(header_line) > 200 or "|" in header_line or not maybe_aligned_header(header_line):
        return None
    cells = [(m.start(), m.group(0)) for m in _CELL.finditer(header_line)]
    header = [cell for _, cell in cells]
    starts = [start for start, _ in cells]
    rows: list[list[str]] = []
    used = 1
    if (
        len(cells) < 2
        or any(_NOT_A_HEADER_CELL.search(cell) for cell in header)
        or (len(column_roles(header)) < 2)
    ):
        # No header: still a table when the next line has its words in the same columns
        # ("A1  D. Kowalski   backout plan attached   Thu 9 Jul"); "End date:   31 March"
        # lines are fields, not a table.
        following = lines[offset + 1].rstrip().expandtabs(4) if offset + 1 < len(lines) else ""
        below = [m.start() for m in _CELL.finditer(following)]
        if len(cells) < 3 or header[0].endswith(":") or not _same_columns(starts, below):
            return None
        rows, header = [header], []
    for raw in lines[offset + 1 : offset + 1 + MAX_ALIGNED_ROWS]:
        line = raw.rstrip().expandtabs(4)
        if not line.strip():
            break
        if _DASHES.match(line):
            used += 1
            continue
        row = _cut(line, starts)
        if row is None:
            break
        used += 1
        if rows and not row[0] and any(row):
            rows[-1] = [f"{a} {b}".strip() for a, b in zip(rows[-1], row, strict=True)]
        else:
            rows.append(row)
    if not rows:
        return None
    return header, rows, used


def _same_columns(starts: list[int], below: list[int]) -> bool:
    """Every column of a line starts where one of the next line's does (two characters of
    slack), and the next line has at least three."""
    return len(below) >= 3 and all(any(abs(s - b) <= 2 for b in below) for s in starts)


def _cut(line: str, starts: list[int]) -> list[str] | None:
    """``line`` cut into the columns that start at ``starts``; None when a word run straddles
    two columns (a sentence, not a row)."""
    cells = [""] * len(starts)
    for match in _CELL.finditer(line):
        start, end = match.start(), match.end()
        # The column whose start is nearest at or before the piece (two characters of slack).
        column = max((i for i, s in enumerate(starts) if s <= start + 2), default=0)
        if column + 1 < len(starts) and end > starts[column + 1] + 2:
            return None
        cells[column] = f"{cells[column]} {match.group(0)}".strip()
    return cells
