"""Table columns by meaning: which column holds the item, its owner, its due date, its status…

Action logs, risk registers and decision logs are tables with every header wording people
use ("What / Who / When", "Item / Assignee / Deadline", "Risk / Likelihood / Impact / Owner").
The extractors ask this module which column plays which role.
"""

from __future__ import annotations

import csv
import re

from workers.digest.blocks import Block

_COLUMN_ROLES: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "id",
        re.compile(
            r"(?:id|#|no\.?|ref(?:erence)?|risk id|item no\.?|key"
            # an issue tracker's export: "Issue key", "Task ID", "Card #", "CAPA No"
            r"|[a-z]+ (?:key|id|#|no\.?))"
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
            r"|accountable|person|actionee)\b.*"
            # "PIC" (person in charge), a tracker's "Members", "Action by"; other languages'
            # words for who: Responsable, Verantwortlich, Zuständig, Encargado, Quién, 担当.
            r"|pic|person in charge|members?|action(?:ed)? by|by whom|poc|point of contact"
            r"|responsables?|respons[aá]vel|verantwortlich(?:e|er)?|zust[aä]ndig(?:e|er)?"
            r"|encargad[oa]s?|qui[eé]n|wer|qui|担当(?:者)?|resp\.?|resp\. person"
        ),
    ),
    (
        "due",
        re.compile(
            # "Who | By": a bare "By" column is when the task is due.
            r"by|by when\??"
            r"|(?!.*\b(?:raised|opened|created|logged|decided|decision|identified|closed|added"
            r"|submitted"
            r"|reported|updated|start)\b).*\b(?:due|deadline|target date|target|by when|when"
            r"|date|eta|date req(?:'?d|uired)|required by|needed by)\b.*"
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
    # "Committee notes / follow-up", "Comments": remarks on the row, not the row's item.
    ("notes", re.compile(r"(?:\w+ )?(?:notes?|comments?|remarks?)(?: / .*)?")),
    (
        "text",
        re.compile(
            r".*\b(?:risks?|descriptions?|issues?|actions?|action items?|tasks?|items?|decisions?"
            r"|titles?|details?|milestones?|events?|what|next steps?|to-?dos?|follow[- ]?ups?"
            r"|deliverables?|summary|name|activity|activities|topic|blockers?|concerns?"
            r"|stor(?:y|ies)|tickets?|features?|epics?|checks?|checklist items?|criteri(?:on|a)"
            r"|steps?|work ?packages?|goals?|objectives?|questions?|findings?|observations?"
            r"|non-?conformit(?:y|ies)|problems?|defects?|complaints?)\b.*"
        ),
    ),
    # A register's own task column ("Risk | … | Action | Action owner | Target date").
    (
        "action",
        re.compile(
            # "Corrective action", "Remedial actions", "Mitigating action": a kind of action.
            r"(?:planned |agreed |next |corrective |preventive |preventative |remedial "
            r"|mitigating |containment |improvement |recommended |proposed )?"
            r"(?:actions?|action items?|next steps?|to-?dos?"
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
_STRONG_DUE = re.compile(
    r"\b(?:due|deadline|target|by when|eta|date req(?:'?d|uired)|required by|needed by)\b",
    re.IGNORECASE,
)


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


# --------------------------------------------------------------------------------------------
# Column roles from the cells as well as the header

_HANDLE = re.compile(r"^@[\w.\-]+$")
_INITIALS = re.compile(r"^[A-Z]{2,3}$")
_DATE_CELL = re.compile(
    r"^(?:\d{1,4}([/.\-])\d{1,2}(?:\1\d{2,4})?|\d{1,2}\s+[A-Za-z]{3,9}(?:\s+\d{4})?"
    r"|[A-Za-z]{3,9}\s+\d{1,2}(?:,?\s+\d{4})?|(?:mon|tue|wed|thu|fri|sat|sun)\w*\.?\s+\S+"
    r"|q[1-4]\s+\d{4}|tbd|tbc|asap|eod|cob)$",
    re.IGNORECASE,
)
_STATUS_WORDS = re.compile(
    r"^\W*(?:open|closed|done|complete[d]?|in progress|in review|not started|to ?do|blocked"
    r"|on hold|overdue|pending|waiting|cancell?ed|resolved|new|backlog|at risk|on track"
    r"|started|ongoing|wip|draft|approved|rejected|deferred|shipped|merged|fixed)\b",
    re.IGNORECASE,
)


def table_roles(header: list[str], rows: list[list[str]]) -> dict[str, int]:
    """``column_roles`` of the header, completed from what the cells hold when the header
    does not say: a column of status words is the status, a column of @handles the owner, a
    column of dates the due date (when nothing else is), and a table with an owner or a due
    column but no task column takes its first free column as the item ("Locale | Translator
    | Due": the locale is what is tracked)."""
    roles = column_roles(header)
    if not rows or len(header) < 3:
        return roles
    sample = rows[:40]
    width = len(header)

    def share(test, index: int) -> float:  # type: ignore[no-untyped-def]
        cells = [r[index].strip() for r in sample if index < len(r) and r[index].strip()]
        if len(cells) * 2 < len(sample):
            return 0.0
        return sum(1 for c in cells if test(c)) / len(cells)

    free = [i for i in range(width) if i not in roles.values()]
    if "status" not in roles:
        best = max(free, key=lambda i: share(_STATUS_WORDS.match, i), default=None)
        if best is not None and share(_STATUS_WORDS.match, best) >= 0.6:
            roles["status"] = best
            free.remove(best)
    if "owner" not in roles:

        def handles(cell: str) -> bool:
            # "@ola; @tim", "JD", "LT / JD": handles or initials, one or several.
            parts = [p for p in re.split(r"\s*[;,/&+]\s*", cell) if p]
            return bool(parts) and all(_HANDLE.match(p) or _INITIALS.match(p) for p in parts)

        best = max(free, key=lambda i: share(handles, i), default=None)
        if best is not None and share(handles, best) >= 0.6:
            roles["owner"] = best
            free.remove(best)
    if "due" not in roles:
        # Not the first column: "19/11-01", "2026-07" there are the rows' references.
        dated = [i for i in free if i > 0 and share(_DATE_CELL.match, i) >= 0.7]
        if len(dated) == 1 and not re.search(
            r"raised|opened|created|logged|identified|added|closed|reported|start",
            header[dated[0]],
            re.IGNORECASE,
        ):
            roles["due"] = dated[0]
            free.remove(dated[0])
    if (
        "text" not in roles
        and "action" not in roles
        and (
            ("decision" not in roles and ("owner" in roles or "due" in roles) and "status" in roles)
            # A decision log without a topic column: "App | Country | Decision" decides on the row.
            or ("decision" in roles)
        )
    ):
        # The first free column that reads as words: "Japanese" beside the code "ja".
        def wordy(index: int) -> bool:
            cells = [r[index].strip() for r in sample if index < len(r) and r[index].strip()]
            return (
                bool(cells)
                and sum(len(c) for c in cells) >= 5 * len(cells)
                and not all(re.fullmatch(r"[\d.,%$€£ +-]+", c) for c in cells)
            )

        free = [i for i in range(width) if i not in roles.values()]
        first = next((i for i in free[:3] if wordy(i)), free[0] if free else None)
        if first is not None:
            roles["text"] = first
    return roles


# --------------------------------------------------------------------------------------------
# Delimited text (a CSV or TSV read as plain text, a spreadsheet pasted into a mail)

_DELIMITERS = ",\t;"


def delimiter_of(lines: list[str]) -> str | None:
    """The delimiter of a text whose lines are spreadsheet rows: three or more of its first
    lines split into the same number (>= 3) of fields on it, and one of them names two or
    more known columns (a header row, which prose never is); or None."""
    head = lines[:60]
    for delimiter in _DELIMITERS:
        counts: dict[int, int] = {}
        for line in head:
            n = line.count(delimiter)
            if n >= 2:
                counts[n] = counts.get(n, 0) + 1
        if (
            counts
            and max(counts.values()) >= 3
            and any(line.count(delimiter) >= 2 and _header_cells(line, delimiter) for line in head)
        ):
            return delimiter
    return None


def unpad_row_line(line: str, delimiter: str) -> str:
    """A spreadsheet row with only its first cell filled, as the text it holds: the padding
    delimiters and the cell's quotes go ("Coordinator notes,,,,", '"Log as at 23/03"')."""
    stripped = line.strip()
    if not stripped:
        return line
    cells = _split_row(stripped, delimiter)
    filled = [c for c in cells if c.strip()]
    if len(cells) >= 3 and not filled:
        return ""  # an empty row: a blank line between the sheet's blocks
    if len(cells) >= 3 and len(filled) == 1 and cells[0].strip():
        return cells[0].strip()
    if len(cells) == 1 and stripped.startswith('"') and stripped.endswith('"'):
        return cells[0].strip()
    return line


def _split_row(line: str, delimiter: str) -> list[str]:
    try:
        return next(csv.reader([line], delimiter=delimiter), [])
    except csv.Error:
        return line.split(delimiter)


def _header_cells(line: str, delimiter: str) -> list[str] | None:
    """The cells of a spreadsheet's header row (three or more column names, two of them
    known), or None."""
    header = [c.strip() for c in _split_row(line.strip(), delimiter)]
    while header and not header[-1]:
        header.pop()
    if len(header) < 3 or any(_NOT_A_HEADER_CELL.search(c) for c in header if c):
        return None
    return header if len(column_roles(header)) >= 2 else None


def delimited_table(
    lines: list[str], offset: int, delimiter: str
) -> tuple[list[str], list[list[str]], int] | None:
    """A run of spreadsheet rows at ``lines[offset]`` whose first row names two or more
    known columns: (header, rows, lines taken), or None. The run ends at a blank line or a
    row with fewer than two cells filled."""
    header = _header_cells(lines[offset], delimiter)
    if header is None:
        return None
    rows: list[list[str]] = []
    used = 1
    for raw in lines[offset + 1 : offset + 1 + MAX_ALIGNED_ROWS * 5]:
        if raw.count(delimiter) < 1:
            break
        cells = [c.strip() for c in _split_row(raw.strip(), delimiter)]
        if sum(1 for c in cells if c) < 2:
            break
        cells = (cells + [""] * len(header))[: len(header)]
        rows.append(cells)
        used += 1
    if not rows:
        return None
    return header, rows, used


# --------------------------------------------------------------------------------------------
# Stacked tables (one sheet holding a register, then a notes block, then a follow-up table)


# A one-cell row that is a sentence: a labelled note, a full stop, ten words or more, or a
# task ("RK to circulate the register").
_SENTENCE_ROW = re.compile(
    r"^[A-Z][\w ]{1,20}:\s+\S|[^.]\.$|^(?:\S+\s+){9,}\S|^@?\S+(?: \S+)? (?:to|will) [a-z]"
)


def split_stacked(header: list[str], rows: list[list[str]]) -> list[tuple[str, object]]:
    """The parts of a sheet read as one table: ("table", (header, rows)) for every table,
    ("para", text) for a one-cell row that is a sentence ("Agreed: CAPA-12 moved to 30/04."
    under a register). A row that names two or more known columns, cut to its filled
    cells, and differs from the header starts a new table."""
    parts: list[tuple[str, object]] = []
    current: tuple[list[str], list[list[str]]] = (header, [])
    width = len(header)
    for row in rows:
        filled = [i for i, c in enumerate(row) if c.strip()]
        if not filled:
            continue
        last = filled[-1]
        cut = [c.strip() for c in row[: last + 1]]
        if (
            len(filled) >= 2
            and filled == list(range(len(filled)))
            and len(filled) < width
            and cut != current[0][: len(cut)]
            and not any(_NOT_A_HEADER_CELL.search(c) for c in cut)
            and len(column_roles(cut)) >= 2
        ):
            if current[1]:
                parts.append(("table", current))
            current = (cut, [])
            width = len(cut)
            continue
        if filled == [0] and width >= 3 and _SENTENCE_ROW.search(row[0].strip()):
            # "Agreed: CAPA-12 moved to 30/04." under a register: a note, not a title row.
            if current[1]:
                parts.append(("table", current))
                current = (current[0], [])
            parts.append(("para", row[0].strip()))
            continue
        current[1].append((list(row) + [""] * width)[:width])
    if current[1]:
        parts.append(("table", current))
    return parts


def stacked_blocks(block: Block) -> list[Block]:
    """``split_stacked`` on a table block: its tables and sentence rows as blocks."""
    if block.kind != "table" or len(block.header) < 3 or len(block.rows) < 2:
        return [block]
    parts = split_stacked(block.header, block.rows)
    if len(parts) == 1 and parts[0][0] == "table":
        return [block]
    out: list[Block] = []
    for kind, value in parts:
        if kind == "para":
            out.append(Block("paragraph", str(value), line=block.line, page=block.page))
        else:
            header, rows = value  # type: ignore[misc]
            out.append(Block("table", header=header, rows=rows, line=block.line, page=block.page))
    return out


_DECISION_LABEL = re.compile(r"^\W*(?:decisions?|decided|agreed|resolution)\s*:", re.IGNORECASE)
_DECISION_TAG = frozenset({"decision", "decisions", "decided", "decision log"})


def is_decision_row(row: list[str], text_col: int) -> bool:
    """A tracker's row that records a decision, not a task: its item says so ("Decision:
    drop the video tour") or its column, tag or type cell is "Decision(s)"."""
    if text_col < len(row) and _DECISION_LABEL.match(row[text_col]):
        return True
    return any(c.strip().lower() in _DECISION_TAG for i, c in enumerate(row) if i != text_col)


_NOTES_HEADER = re.compile(
    r"(?:\w+ )?(?:notes?|comments?|remarks?|updates?|latest\b.*|update\b.*|progress notes?"
    r"|verification\b.*|committee notes\b.*)",
    re.IGNORECASE,
)


# What makes a note a threat rather than news: a hedge, a block, a thing still missing.
_THREAT = re.compile(
    r"\b(?:may|might|could|risk|threat\w*|cannot|can't|unable|unavailable|blocks?|blocked"
    r"|depends|until|still not|not yet|no \w+ yet|unknown|unconfirmed)\b",
    re.IGNORECASE,
)


def open_row_notes(header: list[str], rows: list[list[str]]) -> list[str]:
    """The notes cells (Notes, Comments, Latest update…) of a tracker's rows that are not
    done and that name a threat (a hedge, a block, a thing still missing): where a register
    says what is stuck or threatened."""
    roles = table_roles(header, rows)
    columns = [i for i, c in enumerate(header) if _NOTES_HEADER.fullmatch(c.strip(" :*_"))]
    if not columns:
        return []
    status = roles.get("status")
    notes: list[str] = []
    for row in rows:
        if status is not None and status < len(row) and is_done_status(row[status]):
            continue
        notes.extend(row[i].strip() for i in columns if i < len(row) and _THREAT.search(row[i]))
    return notes


_STATUS_VERDICT = re.compile(
    r"\W*(?P<verdict>agreed|approved|rejected|declined|refused|not approved"
    r"|approved w(?:ith|/) conditions?)\W*",
    re.IGNORECASE,
)


def status_verdict(value: str) -> str | None:
    """A status cell that is a verdict ("Agreed", "Approved", "Rejected"): the row records a
    decision on its item. None for any other status ("Open - Ormond to revert")."""
    found = _STATUS_VERDICT.fullmatch(value.strip())
    return found.group("verdict") if found else None
