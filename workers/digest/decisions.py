"""Decisions: what was decided — not proposals still open, not questions.

* every item of a decisions section ("Decisions", "Resolutions", "Decision Outcome"; an ADR's
  "## Decision" paragraph stays one entry however its lines were wrapped);
* labelled lines anywhere: ``Decision:``, ``Agreed:``/``AGREED:``, ``Resolved:``,
  ``Resolution:``, ``Chosen option:``, ``Accepted:``/``Rejected:``;
* sentences in notes: agreed / decided / resolved / approved / accepted / rejected / chosen,
  "discussed and accepted X", "the one we've chosen", "we are moving (directly) to …",
  "shelved (for now)", vote results ("motion carried", "+5, 0, -1");
  not "awaiting approval", "to be decided", "if approved".
"""

from __future__ import annotations

import re

from workers.digest.blocks import Block
from workers.digest.sections import Section, is_discussion
from workers.digest.tables import column_roles
from workers.digest.words import BOILERPLATE, META_LINE, clip, field_line, sentences

MAX_DECISIONS = 50

_LABEL = re.compile(
    r"^(?:\[\s*)?(?P<label>decisions?|decided|agreed|agreement|resolved|resolution|chosen option"
    r"|accepted|rejected|approved|outcome|conclusion|ruling|vote result|result|dropped"
    r"|shelved|parked|cancell?ed)\s*(?:\]\s*)?"
    # "Decided at stand-up: …", "Agreed in the call: …"
    r"(?:#?\d+)?(?:\s+(?:at|in|on|during|by)\s+[^:.]{1,40}?)?\s*(?::|\s[-–—]\s)\s*(?P<body>.+)$",
    re.IGNORECASE | re.DOTALL,
)
# Meeting-bot tables print the tag without a colon: "AGREED freeze changes from 3 to 7 August".
_CAPS_LABEL = re.compile(
    r"^(?P<label>AGREED|DECIDED|DECISION|RESOLVED|RESOLUTION|ACCEPTED)\s+(?P<body>\S.+)$"
)
_SENTENCE = re.compile(
    r"\b(?:(?:we|it was|the \w+(?: \w+)?|they|all|everyone|group|committee|board|tsc|team)"
    r"\s+(?:have\s+|has\s+|had\s+)?(?:unanimously\s+)?(?:agreed|decided|resolved|approved"
    r"|confirmed that|voted|chose|selected|settled on|accepted|rejected)"
    r"|(?:was|were|has been|have been|is|are)\s+(?:unanimously\s+)?(?:agreed|decided|approved"
    r"|signed off|ratified|accepted|rejected|adopted|chosen|selected|shelved|dropped|declined"
    r"|parked|deferred|postponed indefinitely|cancell?ed|called off|scrapped|withdrawn)"
    r"|decision (?:was|has been) (?:made|taken)|signed off|sign-off (?:was )?given"
    r"|agreed (?:to|that|on|upon)|decided (?:to|that|on|against)|will go with|opted (?:to|for)"
    r"|(?:agreed|decided|approved) by (?:all|everyone|everybody|the (?:team|group|board))"
    r"|(?:^|[.;:]\s+)(?:agreed|approved|decided)(?=[,.;])"
    r"|(?:proposal|rfc|request|motion|change|pr|option|plan)\s+(?:is\s+|was\s+)?(?:accepted"
    r"|approved|rejected|adopted|agreed)"
    r"|discussed and (?:accepted|approved|agreed|rejected)|(?:accepted|approved|rejected)"
    r" (?:the )?(?:proposal|rfc|request|motion|change|pr|option)"
    r"|the one we(?:'ve| have) chosen|chosen option|we(?:'re| are) (?:moving|going|switching)"
    r" (?:directly )?to|shelved(?: for now)?|motion (?:carried|passed|approved|fails|failed)"
    r"|vote (?:passed|carried|failed)|passed unanimously|carried unanimously|lazy consensus"
    r"|(?:there was|we have|we reached|with) (?:\w+ )?consensus|consensus (?:that|on|to)"
    r"|agreed as (?:a )?(?:correct|true|accurate)|approved as (?:a )?(?:correct|true|accurate)"
    r"|(?:council|committee|board|tsc|team|group|we|chair)\s+(?:accepts|approves|rejects|adopts"
    r"|endorses|ratifies|confirms)\b|(?:proceeding|will proceed|go(?:ing)? ahead) with"
    r"|(?:moved?|moves|pushed|postponed|rescheduled|brought forward|deferred)\s+from\s+"
    r"\S[^.;]{0,40}\s+to\s"
    r"|consensus (?:was|is) (?:reached|to)|no objections?"
    r"|(?:that|this|it)(?:'s|’s| is) (?:now )?(?:been )?(?:decided|settled|agreed|final))\b"
    r"|\(\s*\+\d+\s*,\s*-?\d+\s*,\s*-\d+\s*\)",
    re.IGNORECASE,
)
_NOT = re.compile(
    r"\b(?:not (?:yet )?(?:been )?(?:agreed|decided|approved|accepted)|awaiting|pending|if"
    r"|unless|subject to|to be (?:agreed|decided|approved|discussed)|needs? (?:to be )?"
    r"(?:agreed|approved|decided)|for approval|seek(?:ing)? approval|should we|whether"
    r"|no decision|undecided|tbd)\b",
    re.IGNORECASE,
)
# "Marcus Hale approved the priority actions": a named person's verdict.
_NAMED_VERDICT = re.compile(
    r"^(?!(?i:the|a|an|this|that|these|those|our|their|its|his|her|my|your|no|all)\s)"
    r"(?:[A-Z][\w'’-]+\s){1,2}(?:has\s+)?(?:approved|accepted|rejected|signed off on|ratified)\s"
)
# "Sampling at ingest: rejected for now; …", an option turned down (the chosen one is the
# record's own decision).
_VERDICT = re.compile(
    r"^[^:]{3,80}:\s*(?:rejected|shelved|dropped|declined)\b",
    re.IGNORECASE,
)
# "UNDECIDED Whether store managers get admin rights": listed among decisions, still open.
_OPEN_ENTRY = re.compile(r"^(?:undecided|open|pending|tbd|to be decided|not decided)\b", re.I)
_NOT_AN_ENTRY = re.compile(r"^(?:\(?none\)?|n/?a|nothing|tbd|no decisions?(?: \w+)?)\.?$", re.I)
# Sections whose sentences are context or effects of a decision, not decisions.
_QUIET = {"background", "consequences", "agenda", "questions", "attendees"}
# A vote's tally is how it was decided, not what: "For: 5. Against: 1. Abstain: 1."
_TALLY = re.compile(
    r"^(?:(?:for|against|abstain\w*|yes|no|aye|nay|\+1|-1|\+0|0)\s*[:=]\s*\d+\W*(?:\([^)]*\)\W*)?)+$",
    re.IGNORECASE,
)


def decision_label(text: str) -> str | None:
    """The decision after a label ("Agreed: …", "Chosen option: …"), else None."""
    match = _LABEL.match(text) or _CAPS_LABEL.match(text)
    if not match:
        return None
    label = match.group("label").lower()
    body = match.group("body").strip()
    if label in {"chosen option", "rejected", "accepted", "dropped", "shelved", "parked"}:
        return text.strip()
    if label in {"result", "outcome", "approved"} and len(body.split()) < 2:
        return None
    if re.match(r"^(?:\w+day,?\s+)?\d{1,4}(?:[-/. ]\w+){1,2}\b", body) and len(body) < 60:
        return None  # "Decided: 14 May 2026, architecture review board" says when, not what
    return body


_COMMITMENT = re.compile(
    r"^(?!(?:we|they|it|all|everyone|everybody|the|this|that|both|members|committee|board"
    r"|team|group|participants|attendees)\b)"
    r"(?:@[\w.-]+|[A-Z][\w'’-]+(?:\s[A-Z][\w'’-]+)?)\s+(?:has\s+|have\s+)?"
    r"(?:agreed|volunteered|offered|promised)\s+to\b",
    re.IGNORECASE,
)


def is_decision_sentence(sentence: str) -> bool:
    if _COMMITMENT.match(sentence):
        return False  # "@svalente agreed to collect …" is a task someone took
    return (
        bool(_SENTENCE.search(sentence) or _NAMED_VERDICT.match(sentence))
        and not _NOT.search(sentence)
        and not sentence.rstrip(")").endswith("?")
    )


def extract_decisions(sections: list[Section]) -> list[str]:
    found: list[str] = []
    seen: set[str] = set()

    def add(text: str) -> None:
        text = " ".join(text.split()).strip(" -–—*")
        key = re.sub(r"\W+", " ", text.lower()).strip()
        if len(text) < 8 or key in seen or len(found) >= MAX_DECISIONS:
            return
        if _NOT_AN_ENTRY.match(text):
            return
        seen.add(key)
        found.append(clip(text))

    for section in sections:
        # Prose beside a list of decisions introduces it; it is read sentence by sentence.
        listed = any(b.kind in {"list_item", "table"} for b in section.blocks)
        for block in section.blocks:
            if block.kind in {"quote", "heading", "rule"}:
                continue
            if block.kind == "table":
                _table_decisions(block, section.role, add)
                continue
            text = block.text.strip()
            if block.kind == "speaker":
                text = text  # the decision is what was said, not who said it
            if BOILERPLATE.search(text):
                continue
            if _VERDICT.match(text) and not text.rstrip(")").endswith("?"):
                add(text)  # even among the considered options of a decision record
                continue
            labelled = decision_label(text)
            if labelled:
                if not _NOT.search(labelled) or section.role == "decisions":
                    add(labelled)
                continue
            if section.role == "decisions" and not (listed and block.kind == "paragraph"):
                if field_line(text) or (text.startswith("(") and text.endswith(")")):
                    continue
                if META_LINE.match(text) or text.rstrip(")").endswith("?") or text.endswith(":"):
                    continue
                if _TALLY.match(text) or _OPEN_ENTRY.match(text):
                    continue
                if block.kind == "paragraph" and len(text) > 400:
                    for sentence in sentences(text):
                        if is_decision_sentence(sentence):
                            add(sentence)
                    continue
                add(text)
                continue
            if section.role in _QUIET and not is_discussion(section.role, block):
                continue
            for sentence in sentences(text) if len(text) < 3000 else []:
                inline = decision_label(sentence)  # "… compared. Agreed: to award the contract."
                if inline:
                    add(inline)
                elif is_decision_sentence(sentence):
                    add(sentence)
    return found


def _table_decisions(block: Block, role: str, add) -> None:  # type: ignore[no-untyped-def]
    roles = column_roles(block.header)
    text_col = roles.get("text")
    for row in block.rows:
        # "Decision: no press release" written in a notes column of any table.
        for index, value in enumerate(row):
            if index != text_col and (labelled := decision_label(value.strip())):
                if re.match(r"(?i)\W*(?:decision|decided|agreed|resolved)", value):
                    add(labelled)
    decision_col = roles.get("decision")
    if decision_col is not None:
        # A decision log: "<question>: <decision>" for the rows that have a decision.
        status_col = roles.get("status")
        for row in block.rows:
            answer = row[decision_col].strip() if decision_col < len(row) else ""
            status = (
                row[status_col].strip().lower()
                if status_col is not None and status_col < len(row)
                else ""
            )
            if not answer or _NOT.search(status) or status.startswith(("open", "pending")):
                continue
            topic = row[text_col].strip() if text_col is not None and text_col < len(row) else ""
            add(f"{topic}: {answer}" if topic else answer)
        return
    if text_col is None:
        return
    heading = block.header[text_col].lower()
    if "decision" not in heading and role != "decisions":
        return
    for row in block.rows:
        if text_col < len(row) and row[text_col].strip():
            add(row[text_col])
