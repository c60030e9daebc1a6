"""Blocks → sections: headings open sections, and each section gets a role.

The role says how the extractors read the section's items: every item of an "actions" section
is a task, every item of a "decisions" section a decision, of a "risks" section a risk; an
"attendees" section lists people; "agenda", "questions", "background", "feedback" and
"consequences" sections hold no tasks of their own (only explicitly marked ones count there).
A heading itself is never an item: it only names its section.

The role comes from the heading's words; a sub-heading with no role of its own ("### Infra"
under "## Action items", a person's name under "## Updates") inherits its parent's. A rule
(``----``) closes the section above it. A heading in a board's own words takes its role from a
noun in its aside ("ROCKS (risks ahead)"); a heading naming rules ("Release blockers policy")
gives no role; an agenda whose items carry the discussion is marked ``minuted``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from workers.digest.blocks import Block

ROLES = (
    "actions",
    "done",
    "decisions",
    "risks",
    "attendees",
    "agenda",
    "questions",
    "feedback",
    "consequences",
    "background",
    "summary",
    "notes",
    "meta",
)

# First match wins: more specific wordings first.
_HEADING_ROLES: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "background",
        re.compile(
            r"^(?:context|background|problem statement|context and problem statement"
            r"|motivation|considered options|decision drivers|introduction|purpose"
            # How a group decides is a process, not a list of decisions.
            r"|decision[- ]making|decision process|how (?:we decide|decisions are made)"
            r"|governance|voting (?:process|rules))\b"
        ),
    ),
    ("meta", re.compile(r"^(?:next meeting|logistics|meeting (?:info|details|logistics))\b")),
    # A shift handover's list for whoever takes over: "Handover items for Tariq".
    ("actions", re.compile(r"\b(?:hand-?over|hand-?off) (?:items|tasks|actions|to-?dos?)\b")),
    (
        "done",
        re.compile(
            r"^(?:done|completed?(?: actions| items| tasks)?|closed(?: actions| items)?"
            r"|accomplishments|achievements|what we (?:did|shipped|delivered)|shipped|delivered"
            r"|last (?:week|sprint)|this (?:week|sprint)'?s? (?:progress|accomplishments))\b"
        ),
    ),
    (
        "attendees",
        re.compile(
            r"\b(?:attendees|attendance|in attendance|present|participants|people present"
            r"|roll ?call|apologies|absent|regrets|invitees|who(?:'s| is) here|members present"
            r"|committee members|tsc members|voting members|observers|guests|also present"
            r"|non-voting\b.*)\b"
        ),
    ),
    (
        "feedback",
        re.compile(
            r"\b(?:what didn'?t|what did not|not so well|to improve"
            r"|feedback|went well|went wrong|go well|didn'?t go|did not go|could (?:be )?"
            r"improve\w*|improvements?|kudos|shout-?outs?|appreciations?|lessons learn\w*"
            r"|start(?:, | / | and )stop|keep doing|stop doing|start doing|glad|sad|mad"
            r"|liked|learned|lacked|longed for|grouped topics|puzzles|what worked"
            r"|what didn'?t work|retro(?:spective)? (?:notes|board|items))\b"
        ),
    ),
    (
        "consequences",
        re.compile(
            r"\b(?:consequences?|drawbacks?|pros and cons|pros|cons|trade-?offs?|implications"
            r"|downsides?|upsides?|benefits)\b"
        ),
    ),
    (
        "questions",
        re.compile(r"\b(?:questions?|q ?& ?a|faq|unresolved|open points|parking lot)\b"),
    ),
    (
        "actions",
        re.compile(
            r"\b(?:action items?|actions?|ais|a\.i\.s?|next steps?|to-?dos?|to do|follow[- ]?ups?"
            r"|tasks?"
            r"|assignments?|action plan|action log|work items|owners?|what we will do"
            r"|next sprint|sprint backlog|commitments|committed|take-?aways|unfinished|to address"
            r"|what we(?:'ll|’ll| will) (?:try|do|change)|things to try|try next|experiments?"
            r"|doing|in progress|work in progress|wip|in flight"
            r"|outstanding (?:items|tasks|work)|open (?:items|actions|tasks)"
            r"|planned for|plans? for (?:the )?next|next (?:period"
            r"|week|month|quarter)|upcoming work|coming up|priorities for)\b"
        ),
    ),
    (
        "decisions",
        re.compile(
            r"\b(?:decisions?|decided|resolutions?|resolved|agreements?|agreed"
            r"|chosen option|conclusions?|votes?|voting|motions?|rulings?)\b"
        ),
    ),
    (
        "risks",
        re.compile(
            r"\b(?:risks?|blockers?|blocked|impediments?|concerns?|issues|raid|threats?"
            r"|dependencies|escalations?|red flags|watch ?list|watch items|things to watch"
            r"|watch-?outs|problems?|worried|worries|nonconformit(?:y|ies)|non-conformit"
            r"(?:y|ies))\b"
        ),
    ),
    ("agenda", re.compile(r"\b(?:agenda|topics? for discussion|items? for discussion)\b")),
    (
        "background",
        re.compile(
            r"\b(?:context|background|problem statement|motivation|considered options|options"
            r"|alternatives|decision drivers|introduction|purpose|references|links|appendix"
            r"|glossary|terminology|prior art|non-goals|timeline of events)\b"
        ),
    ),
    (
        "summary",
        re.compile(r"\b(?:summary|tl;?dr|highlights|executive summary|headlines?|key points)\b"),
    ),
    (
        "notes",
        re.compile(
            r"\b(?:notes|discussion|minutes|updates?|status|progress|announcements|round ?table"
            r"|any other business|aob|misc\w*)\b"
        ),
    ),
)


_BODY_NAME = re.compile(
    r"\b(?:risks?|issues?)(?: (?:and|&) \w+)? (?:committee|officer|manager|lead|management"
    r"|appetite|owner|team|function|board)\b"
)


_DISCLAIMED = re.compile(
    r"\((?:[^)]*[,;]\s*)?(?:not|no)\s+(?:yet\s+)?(?:commit\w*|actions?|decided|decisions?|agreed"
    r"|final|binding)\b[^)]*\)"
)


_RULES_FOR = re.compile(
    r"\b(?:policy|policies|process|procedures?|guidelines?|template|charter)\s*$"
)


@dataclass(slots=True)
class Section:
    """A heading (possibly none, for text before the first heading) and the blocks under it."""

    heading: str
    level: int
    role: str
    blocks: list[Block] = field(default_factory=list)
    heading_block: Block | None = None
    # An agenda section whose items carry the discussion typed under each topic: its
    # sentences state decisions and risks like notes do (its items are still no tasks).
    minuted: bool = False
    # Prose only, right above its own sub-sections (a document title's "Review of 25 Feb,
    # prepared by …"): an introduction, whose sentences count but not as items.
    intro: bool = False


# A time slot in a heading's aside marks an item of the meeting's own agenda, discussed then
# and there: "Governance (7:15-7:45)", "Background (10 min)", "Context (14:00)".
_TIMEBOX = re.compile(r"\b\d{1,2}[:.]\d{2}\b|\b\d{1,3}\s*(?:min|mins|minutes|m)\b")


def heading_role(heading: str) -> str | None:
    """The role a heading's words give its section, or None when they say nothing."""
    # "3. Notes", "iv) Risks", "## Votes" — numbering and marks, not the "i" of "Issues".
    key = re.sub(
        r"^(?:[\s#*]+|(?:\d+(?:\.\d+)*|[ivx]+)[.):]\s*|\d+\s+)+(?=[a-z])",
        "",
        heading.lower().strip(" :*_"),
    ).strip()
    if _DISCLAIMED.search(key):
        return "notes"  # "Next week (plan, not commitments)", "Proposals (not decided)"
    if _RULES_FOR.search(key):
        return None  # "Release blockers policy" is a topic; it lists no blockers
    for role, pattern in _NOT_YET:
        if pattern.search(re.sub(r"[()]", "", key)):
            return role
    aside = " ".join(re.findall(r"\(([^)]*)\)", key))
    key = re.sub(r"\s*\([^)]*\)", "", key)  # "Milestones (as agreed today)" are milestones
    key = re.sub(r"\s+", " ", key).strip()
    if not key:
        return None
    # "Minutes of the Audit and Risk Committee": a body's name, not a list of its risks.
    key = _BODY_NAME.sub(" ", key).strip()
    if not key:
        return None
    if re.fullmatch(r"a\.?i\.?|ai's", key):
        return "actions"  # "AI": the minutes' short form of action items, a heading alone
    for role, pattern in _HEADING_ROLES:
        if pattern.search(key):
            if role == "background" and _TIMEBOX.search(aside):
                return None  # "Governance (7:15-7:45)": a meeting's timed slot is minuted
            return role
    # A heading in a board's own vocabulary explains itself by a noun: "ROCKS (risks ahead)";
    # an aside with a verb only qualifies it ("Milestones (as agreed today)").
    for role, pattern in _ASIDE_ROLES:
        if aside and pattern.search(aside):
            return role
    return None


# Headings that name decisions still to take, items put to a vote, or risks already closed:
# "Decisions needed" lists questions; "Items for decision" holds papers whose outcome is
# minuted in sentences; "Resolved issues" are done, not decisions.
_NOT_YET: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "questions",
        re.compile(
            r"\b(?:decisions?|votes?|approvals?|sign-?offs?)\s+(?:needed|required|requested"
            r"|pending|outstanding|requests?|points|proposed|to (?:make|take|be (?:made|taken)))\b"
            r"|\b(?:pending|open|outstanding|upcoming|proposed|required|requested|needed|future)"
            r"\s+(?:decisions?|votes?|approvals?)\b"
        ),
    ),
    (
        "notes",
        re.compile(
            r"\b(?:items? )?for (?:decision|approval|a vote)\b|\bmitigations?$"
            # "Discussion and decisions": the discussion is minuted; its decisions are sentences.
            r"|\b(?:discussion|notes|minutes)\b.*\bdecisions?\b|\bdecisions?\b.*\b(?:discussion"
            r"|notes|minutes)\b"
            # "Discussed / agreed": what was talked over, some of it agreed.
            r"|\bdiscuss(?:ed|ion)\s*(?:/|&|\+|,|and)\s*(?:agreed|decided|agreements?)\b"
            r"|\b(?:agreed|decided|agreements?)\s*(?:/|&|\+|,|and)\s*discuss(?:ed|ion)\b"
            # A report's status against its plan: "Progress against agreed outcomes".
            r"|\b(?:progress|performance|delivery) (?:against|vs\.?|versus|towards?)\b"
            # "Summary of conclusions and actions": each item says which it is ("Action: …").
            r"|\b(?:decisions?|conclusions?|resolutions?|outcomes?)\b.*\b(?:actions?|action items"
            r"|next steps)\b|\b(?:actions?|action items)\b.*\b(?:decisions?|conclusions?"
            r"|resolutions?)\b"
        ),
    ),
    (
        "done",
        re.compile(
            r"\b(?:resolved|closed|retired|fixed|cleared)\s+(?:issues|risks|blockers|impediments)"
            r"|\b(?:issues|risks|blockers|impediments)\s+(?:\()?(?:resolved|closed|retired"
            r"|cleared)\b"
        ),
    ),
)

_ASIDE_ROLES = (
    ("risks", re.compile(r"\b(?:risks?|blockers?|concerns?|threats?|impediments?)\b")),
    ("actions", re.compile(r"\b(?:actions?|action items|next steps|to-?dos?)\b")),
    ("decisions", re.compile(r"\b(?:decisions|resolutions)\b")),
)


def is_discussion(role: str, block: Block) -> bool:
    """Notes written under an agenda item ("- 1. Release status" / "  - Kai is concerned
    that …"): a nested or sentence-long item of an agenda is discussion, not a topic."""
    return role == "agenda" and (block.level > 0 or len(block.text) > 80)


_NOTHING = re.compile(
    r"^\W*(?:no (?:report|update|updates|news|change|changes)|nothing (?:to report|new)|none"
    r"|n/?a|nil)\W*$",
    re.IGNORECASE,
)


def split_sections(blocks: Iterable[Block]) -> list[Section]:
    """Sections in document order; the first one (before any heading) has an empty heading."""
    sections = [Section("", 0, "notes")]
    # (level, role) of the open headings, to let an unnamed sub-heading inherit its role.
    stack: list[tuple[int, str]] = []
    for block in blocks:
        if block.kind == "heading" and _NOTHING.match(block.text):
            # "No report" set as a heading under a topic says that topic has nothing: a line of
            # the section it sits in, not a new section that would cut the topic's role.
            sections[-1].blocks.append(replace(block, kind="paragraph"))
            continue
        if block.kind == "heading":
            level = block.level or 1
            while stack and stack[-1][0] >= level:
                stack.pop()
            own = heading_role(block.text)
            role = own or (stack[-1][1] if stack else "notes")
            if not own and role in {"agenda", "attendees"}:
                # "### 1. Release status" under "## Agenda" holds its discussion; "### Recap"
                # under "## Attendees" (a deeper heading level than the names') is no name list.
                role = "notes"
            stack.append((level, role))
            sections.append(Section(block.text, level, role, heading_block=block))
        elif block.kind == "rule":
            stack = [entry for entry in stack if entry[0] < sections[-1].level]
            if sections[-1].blocks:
                sections.append(Section("", sections[-1].level, stack[-1][1] if stack else "notes"))
        else:
            sections[-1].blocks.append(block)
    for section in sections:
        section.minuted = section.role == "agenda" and _minuted(section)
    for section, after in zip(sections, sections[1:], strict=False):
        section.intro = (
            after.level > section.level > 0
            # "## Decision outcome" over "### Consequences": its own prose is the decision
            # (a document title's prose, "# … risk register", still introduces it).
            and (section.level == 1 or section.role not in {"actions", "decisions", "risks"})
            and bool(section.blocks)
            and all(b.kind == "paragraph" for b in section.blocks)
        )
    return [s for s in sections if s.blocks or s.heading]


def _minuted(section: Section) -> bool:
    """An agenda whose items carry the discussion ("Agenda" in a shared meeting doc, the
    notes typed under each topic): several long, sentence-like items, not a list of topics."""
    items = [b.text for b in section.blocks if b.kind in {"list_item", "paragraph", "speaker"}]
    long = sum(len(text.split()) >= 9 for text in items)
    return long >= 3 and long * 3 >= len(items)
