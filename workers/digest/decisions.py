"""Decisions: what was decided — not proposals still open, not questions.

* every item of a decisions section ("Decisions", "Resolutions", "Decision Outcome"; an ADR's
  "## Decision" paragraph stays one entry however its lines were wrapped);
* labelled lines anywhere: ``Decision:``, ``Agreed:``/``AGREED:``, ``Resolved:``,
  ``Resolution:``, ``Chosen option:``, ``Accepted:``/``Rejected:``;
* sentences in notes: agreed / decided / resolved / approved / accepted / rejected / chosen,
  "discussed and accepted X", "the one we've chosen", "we are moving (directly) to …",
  "shelved (for now)", vote results ("motion carried", "+5, 0, -1");
  not "awaiting approval", "to be decided", "if approved";
* verdicts in minutes' layouts: "Decided at stand-up: …", "4.2 RESOLVED: …", "Dropped: …",
  "Agreed, provided …" and "Change accepted." (kept with their item), "agreed by everyone",
  "Name approved the …", a question answered "Yes." / "…, but no" on the spot;
* tables: a decision log's topic paired with its Decision column (open rows skipped), a
  verdict column (Outcome / Result / Resolution: approved, rejected, deferred, not accepted),
  a "Decision: …" written in any cell.
"""

from __future__ import annotations

import re

from workers.digest.blocks import Block
from workers.digest.sections import Section, is_discussion
from workers.digest.tables import status_verdict, table_roles, verdict_column
from workers.digest.words import (
    BOILERPLATE,
    META_LINE,
    clip,
    field_line,
    restates,
    sentences,
    topic_tokens,
)

MAX_DECISIONS = 50

_LABEL = re.compile(
    r"^(?:\[\s*)?(?P<label>decisions?|decided|agreed|agreement|resolved|resolution|chosen option"
    r"|accepted|rejected|approved|outcome|conclusion|ruling|vote result|result|dropped|parked"
    r"|shelved|deferred|postponed|declined|not accepted|cancell?ed|adopted|consensus|tabled"
    r"|final decision|group decision|disposition|d\d{1,3}|dec[- ]?\d{1,4}"
    # "Release decision: go", "Board decision: approved" (not "Pending decision: …")
    r"|(?!(?:pending|open|required|needed|next|outstanding|upcoming|proposed|no)\b)"
    r"[\w/-]+(?: [\w/-]+)? decision)\s*(?:\]\s*)?"
    # "Decided at stand-up:", "Agreed with the product manager:": who or where, then what.
    r"(?P<qual>\s(?:at|in|by|with|during|on|until)\s[^:;.]{1,40}?)?"
    r"(?:#?\d+)?\s*(?P<sep>:|\s[-–—]\s)\s*(?P<body>.+)$",
    re.IGNORECASE | re.DOTALL,
)
# "4.2 RESOLVED: …", "(b) Agreed: …": a minute's own numbering before its label.
_NUMBERING = re.compile(r"^(?:\d{1,3}(?:\.\d{1,3})+\.?|\(?[a-z0-9]{1,2}\))\s+(?=\S)")
# Labels whose word is part of what was decided ("Dropped: the weekly demo recording").
_KEEP_LABEL = {
    "chosen option",
    "rejected",
    "accepted",
    "not accepted",
    "dropped",
    "parked",
    "shelved",
    "deferred",
    "postponed",
    "declined",
    "cancelled",
    "canceled",
    "adopted",
    "tabled",
}
# Meeting-bot tables print the tag without a colon: "AGREED freeze changes from 3 to 7 August".
_CAPS_LABEL = re.compile(
    r"^(?P<label>AGREED|DECIDED|DECISION|RESOLVED|RESOLUTION|ACCEPTED)\s+(?P<body>\S.+)$"
)
_SENTENCE = re.compile(
    r"\b(?:(?:we|it was|the \w+(?: \w+)?|they|all|everyone|group|committee|board|tsc|team)"
    r"\s+(?:have\s+|has\s+|had\s+)?(?:unanimously\s+)?(?:agreed|decided|approved"
    r"|declined|turned down|deferred|tabled|postponed|endorsed|ratified|resolved (?:to|that)"
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
    # … a date to a date ("moved from 2 Nov to 9 Nov"), not a repository from org to org
    r"(?=[^.;]{0,40}(?:\d|\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec|mon|tue|wed|thu"
    r"|fri|sat|sun|week|month|quarter|q[1-4]|spring|summer|autumn|fall|winter)))"
    r"\S[^.;]{0,40}\s+to\s"
    r"|consensus (?:was|is) (?:reached|to)|consensus (?:reached|achieved)|no objections?"
    r"|(?:that|this|it)(?:'s|’s| is) (?:now )?(?:been )?(?:decided|settled|agreed|final)"
    # "-> agreed by everyone", "(approved by the clinical safety officer)"
    r"|(?:agreed|decided) by (?:the |all\b|every\w*|consensus)|[,;–—-]\s*agreed with"
    r"|confirmed by the (?:chair|board|committee|council|sponsor|steering|group|client)"
    r"|we(?:'ll| will) go with|going with"
    r"|(?:made|took|taken|reached) (?:a|the) decision"
    r"|(?:motion|vote|resolution|proposal|ballot|amendment)\b[^.;]{0,80}\b(?:passed|passes"
    r"|carried(?! over| forward)|carries|adopted)"
    r"|(?:was|were|is|are|been) tabled|\bgo/no-?go\W+go\b|\bgo decision"
    r"|^going forward,? we(?:'ll| will)"
    r"|(?:date|deadline|go-live|release|launch|milestone|freeze|cut-?over|meeting)\b[^.;]{0,30}"
    r"\b(?:moves|moved|rescheduled|changed|brought forward) to"
    r"|(?:approval|go-ahead|green light) (?:was |has been )?(?:granted|given)"
    r"|(?:gave|given|got) (?:the |a )?(?:go-ahead|green light)"
    r"|(?:nobody|no one|none) objected|without objection|unanimous(?:ly)?"
    # The chair closing a point: "Let's keep the Friday freeze for now", "we'll stick with".
    r"|let(?:'|’)?s (?:keep|stick with|stay with|go with|leave)|we(?:'ll|’ll| will) (?:keep"
    r"|stick with|stay with)|no change (?:to|in|for) the\b"
    r"|(?:stays?|remains?) (?:as (?:is|planned)|unchanged|the same))\b"
    # "12:48 - decision to roll the image rather than revert": a timeline's decision.
    r"|(?:^|[-–—:]\s+)(?:the )?decision to\b(?! be\b)"
    # A sentence that opens on the verdict: "Agreed, provided the rollback test passes."
    r"|^\W*(?:agreed|approved|accepted|rejected|adopted|declined|decided|resolved)[,;:]\s+\w"
    # Minutes in the past tense, subject left out: "Adopted the two-maintainer rule."
    r"|^\W*(?:approved|adopted|ratified|endorsed|rejected) the\b"
    # "Change accepted.", "Proposal rejected.": a short verdict on a named thing.
    r"|^\W*(?:the )?\w+(?:[ -]\w+)? (?:accepted|approved|rejected|adopted|agreed)\W*$"
    r"|\(\s*\+\d+\s*,\s*-?\d+\s*,\s*-\d+\s*\)",
    re.IGNORECASE,
)
_NOT = re.compile(
    r"\b(?:not (?:yet )?(?:been )?(?:agreed|decided|approved|accepted)|awaiting|pending"
    # "If we move the date, …" supposes; "if approved", "if the board agrees" hang on another
    # decision; a decision with a condition of fact ("… we ship the RC if upstream has not
    # tagged by then") is taken all the same.
    r"|(?:^\W*|:\s+)if\b|\b(?:could|might)\s+(?:\w+\s+)?(?:exceed|slip|delay|miss|fail|break"
    r"|overrun|cost|lose|block|need)\b"
    r"|\bif\s+(?:\w+\s+){0,4}(?:approv\w*|agree\w*|accept\w*|decid\w*|confirm\w*|sign\w* off)"
    r"|unless|once (?:\w+ ){0,4}(?:has|have) (?:approved|agreed|decided)|subject to"
    r"|to be (?:agreed|decided|approved|discussed)|needs? (?:to be )?"
    r"(?:agreed|approved|decided)|for approval|seek(?:ing)? approval|should we|whether"
    r"|no decision|undecided|tbd|tbc|to be confirmed|pending confirmation|provisional\w*"
    r"|straw poll|non-binding|show of hands|will (?:still )?(?:need to )?confirm"
    r"|decisions? (?:needed|required|requested)|needs? a decision|(?:still )?to decide"
    r"|no consensus|(?:not|never) (?:reach|reached|achieve|achieved) consensus"
    r"|agreed? to disagree"
    r"|lack(?:ed)? (?:of )?consensus)\b",
    re.IGNORECASE,
)
# "UNDECIDED Whether store managers get admin rights": listed among decisions, still open.
_OPEN_ENTRY = re.compile(
    r"^(?:undecided|open|pending|tbd|to be decided|not decided|no consensus|no decision"
    r"|no agreement|not concluded|inconclusive|no conclusion"
    # "Decision needed from the Board: whether to fund …", listed among decisions: an ask.
    r"|(?:decisions?|approval|sign-?off) (?:is |are )?(?:needed|required|requested|sought"
    r"|pending))\b",
    re.I,
)
# A task written among the decisions ("CW to write the annex before the next plenary"): the
# actions extractor takes it; a decision of the group does not start with one person's name.
_TASK_ITEM = re.compile(
    r"^(?:[A-Z]{2,3}|@[\w.\-]+|[A-Z][a-z][\w'’-]*(?:\s+[A-Z][\w'’-]+)?)"
    r"(?:\s*(?:,|and|&|/)\s*(?:[A-Z]{2,3}|@[\w.\-]+|[A-Z][a-z][\w'’-]*))*\s+to\s+[a-z]"
)
_NOT_AN_ENTRY = re.compile(
    r"^(?:\(?none(?: yet| so far| this (?:week|month|time|period))?\)?|n/?a|-+|nothing"
    r"(?: to report| new)?|tbd|no decisions?(?: \w+){0,3})\.?$",
    re.I,
)
# Sections whose sentences are context or effects of a decision, not decisions.
_QUIET = {"background", "consequences", "agenda", "questions", "attendees"}
# A vote's tally is how it was decided, not what: "For: 5. Against: 1. Abstain: 1."
_TALLY = re.compile(
    r"^(?:(?:for|against|abstain\w*|yes|no|aye|nay|\+1|-1|\+0|0)\s*[:=]\s*\d+\W*(?:\([^)]*\)\W*)?)+$",
    re.IGNORECASE,
)


def decision_label(text: str) -> str | None:
    """The decision after a label ("Agreed: …", "Chosen option: …"), else None."""
    text = _NUMBERING.sub("", text.strip())
    match = _LABEL.match(text) or _CAPS_LABEL.match(text)
    if not match:
        return None
    label = match.group("label").lower()
    body = match.group("body").strip()
    if match.groupdict().get("qual") and match.group("sep") != ":":
        return None  # "Accepted by the board – no action" describes a response, not a label
    if label in {"result", "outcome", "approved"} and len(body.split()) < 2:
        return None
    if re.match(r"^(?:noted|for (?:information|noting)|n/?a|none|tbd|pending)\b", body, re.I):
        return None  # "Outcome: noted (pre-approved standard change)" records, not decides
    if label in _KEEP_LABEL or len(body) < 8:
        return text.strip()  # "Go/no-go decision: GO" says little without its label
    if (
        re.match(r"^(?:\w+day,?\s+)?\d{1,4}(?:[-/. ]\w+){1,2}\b", body)
        and re.match(
            r"^(?:\w+day,?\s+)?\d{1,4}(?:[-/.]\d|\s+(?:jan|feb|mar|apr|may|jun|jul|aug"
            r"|sep|oct|nov|dec)[a-z]*\b)",
            body,
            re.IGNORECASE,
        )
        and len(body) < 60
    ):
        return None  # "Decided: 14 May 2026, architecture review board" says when, not what
    return body


_COMMITMENT = re.compile(
    r"^(?!(?:we|they|it|all|everyone|everybody|the|this|that|both|members|committee|board"
    r"|team|group|participants|attendees)\b)"
    r"(?:@[\w.-]+|[A-Z][\w'’-]+(?:\s[A-Z][\w'’-]+)?)\s+(?:has\s+|have\s+)?"
    r"(?:agreed|volunteered|offered|promised)\s+to\b",
    re.IGNORECASE,
)


# "Marcus Hale approved the priority actions": a named person's sign-off (case matters).
_NAMED_VERDICT = re.compile(
    r"(?:^|[.;]\s)(?:[A-Z][\w'’-]+ ){1,2}(?:has )?(?:approved|accepted|rejected|vetoed|ratified"
    r"|signed off(?: on)?) (?:the|this|that|a|an)\b"
)


def is_decision_sentence(sentence: str) -> bool:
    if _COMMITMENT.match(sentence):
        return False  # "@svalente agreed to collect …" is a task someone took
    return (
        bool(_SENTENCE.search(sentence) or _NAMED_VERDICT.search(sentence))
        and not _NOT.search(sentence)
        and not sentence.rstrip(")").endswith("?")
    )


def extract_decisions(sections: list[Section]) -> list[str]:
    found: list[str] = []
    seen: set[str] = set()
    said: list[frozenset[str]] = []

    def add(text: str) -> None:
        text = " ".join(text.split()).strip(" -–—*")
        key = re.sub(r"\W+", " ", text.lower()).strip()
        if len(text) < 8 or key in seen or len(found) >= MAX_DECISIONS:
            return
        if _NOT_AN_ENTRY.match(text):
            return
        tokens = topic_tokens(text)
        if restates(tokens, said):
            return  # the same decision again (a summary, the bot's list after the log)
        seen.add(key)
        said.append(tokens)
        found.append(clip(text))

    for section in sections:
        # Prose beside a list of decisions introduces it; it is read sentence by sentence.
        listed = any(b.kind in {"list_item", "table"} for b in section.blocks)
        question = ""  # the item above, when it asked a question ("Should we …?" / "Yes.")
        # The motion a vote record below it decides ("Proposal: …" / "Votes: …"); a motion
        # set in bold on its own line reads as a heading, a full sentence rather than a topic.
        heading = section.heading.strip()
        sentence_like = heading.endswith((".", "?")) and len(heading.split()) >= 4
        motion = heading if sentence_like and len(heading) <= 400 else ""
        first = not motion
        for block in section.blocks:
            if block.kind in {"quote", "heading", "rule"}:
                question = motion = ""
                continue
            if block.kind != "table" and not field_line(block.text.strip()):
                text = block.text.strip()
                if motion and _VOTE_RECORD.match(text) and len(text) <= 300:
                    if _VOTE_OPEN.search(text):
                        motion = question = ""
                        continue  # "No vote yet from …": the vote is still open
                    add(f"{motion} {text}")  # the motion with its result is one decision
                    motion = question = ""
                    first = False
                    continue
                motion = (
                    text
                    if (first or _MOTION.match(text))
                    and len(text) <= 400
                    and not _TALLY.match(text)
                    else ""
                )
                first = False
            if block.kind == "table":
                _table_decisions(block, section.role, add)
                question = ""
                continue
            text = block.text.strip()  # a speaker's decision is what was said, not who said it
            asked, question = question, text if text.rstrip(")").endswith("?") else ""
            if BOILERPLATE.search(text):
                continue
            if section.role not in _NO_ANSWERS:
                answered = _answered(asked, text)
                if answered:
                    add(answered)
                    continue
            labelled = decision_label(text)
            if labelled:
                if (
                    not _NOT.search(labelled)
                    or section.role == "decisions"
                    or _VERDICT_LEAD.match(labelled)
                ):
                    add(labelled)
                continue
            # A speaker's turn under "Decisions" is discussion: only its decided sentences count.
            if (
                section.role == "decisions"
                and not section.intro
                and block.kind != "speaker"
                and not (listed and block.kind == "paragraph")
            ):
                if field_line(text) or (text.startswith("(") and text.endswith(")")):
                    continue
                if META_LINE.match(text) or text.rstrip(")").endswith("?") or text.endswith(":"):
                    continue
                if _TALLY.match(text) or _OPEN_ENTRY.match(text) or text.startswith("~~"):
                    continue  # "~~kaede to add a NEWS entry~~ already in NEWS": struck out
                if _TASK_ITEM.match(text) and not is_decision_sentence(text):
                    continue
                if block.kind == "paragraph" and len(text) > 400:
                    for sentence in sentences(text):
                        if is_decision_sentence(sentence):
                            add(sentence)
                    continue
                add(text)
                continue
            if _REJECTED_OPTION.search(text) and len(text) <= 300:
                add(text)  # "Sampling at ingest: rejected for now" (an ADR's alternatives too)
                continue
            if _TRAILING_VERDICT.search(text) and len(text) <= 300 and section.role not in _QUIET:
                add(text)  # "dmitri wants a 48h staging soak before prod. agreed."
                continue
            parts = sentences(text) if len(text) < 3000 else []
            if (
                section.role in _QUIET
                and not section.minuted
                and not is_discussion(section.role, block)
            ):
                # Only a question answered on the spot ("… blurry photos? Interesting, but no").
                if section.role not in _NO_ANSWERS:
                    for index in range(1, len(parts)):
                        if _answered(parts[index - 1], parts[index]):
                            add(f"{parts[index - 1]} {parts[index]}")
                continue
            for index, sentence in enumerate(parts):
                inline = decision_label(sentence)  # "… compared. Agreed: to award the contract."
                if inline:
                    add(inline)
                elif _BARE_VERDICT.match(sentence):
                    if index and len(text) <= 300:
                        add(text)  # "dmitri wants a 48h soak before prod. agreed."
                elif index and _answered(parts[index - 1], sentence):
                    add(f"{parts[index - 1]} {sentence}")
                elif is_decision_sentence(sentence):
                    # "Change accepted." / "Agreed, provided …": the verdict needs its item.
                    terse = len(sentence.split()) <= 6 or _VERDICT_FIRST.match(sentence)
                    if terse and len(parts) > 1 and len(text) <= 300:
                        add(text)
                    elif terse and index and len(sentence.split()) <= 4:
                        # "… proposed, seconded by …, that the council contribute £1,200.
                        # Unanimously agreed." in a long paragraph: the motion and its verdict.
                        add(f"{parts[index - 1]} {sentence}")
                    else:
                        add(sentence)
    return found


# A motion put to a vote, then its result a line or two below (only "Proposed by: …" /
# "Seconded: …" lines between): "**Proposal:** Fund …?" … "**Votes:** Unanimous yes".
_MOTION = re.compile(
    r"^\W*(?:proposal|motion|proposed (?:motion|resolution))\W*:"
    # "Cllr Oyelaran proposed approval of the payments, seconded by Cllr Pennick."
    r"|^[^.]{0,60}\b(?:proposed|moved)\b[^.]{0,160}\bseconded\b",
    re.I,
)
_VOTE_RECORD = re.compile(
    r"^\W*(?:votes?|vote result|result of (?:the )?vote)\s*:"
    r"|^\W*(?:unanimously (?:approved|agreed|carried|adopted|passed|rejected)"
    r"|(?:approved|carried|passed|rejected|defeated) unanimously"
    r"|(?:motion )?(?:carried|passed|defeated|failed))\b",
    re.I,
)
_VOTE_OPEN = re.compile(r"\b(?:not? (?:\w+ )?yet|still open|pending|in progress)\b", re.I)


# A verdict that leads its label's body is given, whatever it is conditioned on: "Decision:
# GO for Thursday, subject to the backfill rerun", "Outcome: approved, pending the budget".
_VERDICT_LEAD = re.compile(
    r"^\W*(?:go|no[- ]go|approved|accepted|rejected|declined|conditional (?:go|approval))\b"
    r"(?![-\s]+(?:live|to|ahead\?))",
    re.IGNORECASE,
)


# Sections where a question and its answer are not minuted decisions (an FAQ, a Q&A).
_NO_ANSWERS = {"questions", "background", "agenda"}
# A considered option marked rejected: a decision even among an ADR's alternatives.
# A topic followed by its verdict ("ADR-0031 Event sourcing for orders: approved"); a plain
# "accepted" is left out, being how reviews mark work done ("CP-412 Upload: Accepted").
_REJECTED_OPTION = re.compile(
    r"^(?!(?:status|state|stage|phase|result|outcome|decision|resolution|vote)\s*[:–—-])"
    r"[^:]{3,120}(?::|\s[-–—]\s)\s*(?:rejected|declined|ruled out|discarded|not chosen"
    r"|shelved|dropped|approved|deferred|not (?:approved|accepted))\b"
    # A proposal's own verdict may be a plain "accepted": "ADR-0040 Outbox pattern: Accepted".
    r"|^\W*(?:adr|rfc|pep|kep|proposal|change request|cr|chg)\b[^:]{0,100}(?::|\s[-–—]\s)\s*"
    r"accepted\b",
    re.IGNORECASE,
)
_TRAILING_VERDICT = re.compile(r"[.;]\s+(?:agreed|approved|accepted|adopted)[.!]?\s*$", re.I)
_BARE_VERDICT = re.compile(r"^\W*(?:agreed|approved|accepted|adopted|rejected)\W*$", re.I)
_VERDICT_FIRST = re.compile(r"^\W*(?:agreed|approved|accepted|rejected|adopted|declined)\b", re.I)
_ANSWER = re.compile(
    r"^\W*(?:(?:yes|no|agreed|approved|accepted|rejected|declined)(?:[.!,;]|\s*$)"
    r"|\w+(?: \w+)?,? but (?:yes|no)\b)",
    re.IGNORECASE,
)


# A question that asks for a decision ("Should we …?", "Can we auto-reject …?", "OK to …?").
_DECIDING_QUESTION = re.compile(
    r"\b(?:should|shall|can we|could we|do we|will we|are we|may we|ok(?:ay)? to|agree|approve"
    r"|accept|adopt|go ahead|proceed|want to|mention|include|keep|drop|move|switch|allow)\b",
    re.IGNORECASE,
)


def _answered(question: str, answer: str) -> str | None:
    """ "Should the review mention X?" answered "Yes." (the next item or sentence): a decision."""
    if not question.rstrip(")").endswith("?") or len(question) > 300:
        return None
    if not _DECIDING_QUESTION.search(question):
        return None  # "is the timestamp always UTC?" "Yes, …": a fact, not a decision
    if not _ANSWER.match(answer) or len(answer) > 300 or answer.rstrip(")").endswith("?"):
        return None
    return f"{question} {answer}"


# A column that holds the verdict itself, beside the topic decided on.
_VERDICT_COLUMN = re.compile(
    r"(?:decisions?(?: (?:made|taken|agreed))?|outcome|resolution|result|verdict|ruling"
    r"|cab decision|board decision)",
    re.IGNORECASE,
)
_VERDICT_WORD = re.compile(
    r"^\W*(?:approved|rejected|deferred|declined|agreed|adopted|postponed|not (?:accepted"
    r"|approved)|accepted\b.+|approved\b|withdrawn|refused)",
    re.IGNORECASE,
)
_CELL_LABEL = re.compile(r"^\W*(?:decisions?|decided|agreed|resolved|resolution)\s*:", re.I)
_UNDECIDED = re.compile(r"^\W*(?:open|pending|proposed|draft|tbd|to be|awaiting|in review)", re.I)


def _table_decisions(block: Block, role: str, add) -> None:  # type: ignore[no-untyped-def]
    roles = table_roles(block.header, block.rows)
    text_col = roles.get("text", roles.get("decision"))  # "Decision | Date": the decision
    status_col = roles.get("status")
    verdict_col = next(
        (
            i
            for i, cell in enumerate(block.header)
            if i != text_col and _VERDICT_COLUMN.fullmatch(cell.strip(" :*_"))
        ),
        None,
    )
    if verdict_col is None:
        verdict_col = verdict_column(block.header, block.rows, text_col)
    heading = block.header[text_col].lower() if text_col is not None else ""
    for row in block.rows:
        cells = [value.strip() for value in row]
        cell = _getter(cells)

        # "Decision: no press release" written in a Notes cell of any table, or a sentence
        # there that records one ("Team agreed to ship on Friday").
        labelled = [decision_label(value) for value in cells if _CELL_LABEL.match(value)]
        for value in labelled:
            if value and not _NOT.search(value):
                add(value)
        for index, value in enumerate(cells):
            if index == text_col or _CELL_LABEL.match(value) or len(value.split()) < 4:
                continue
            for sentence in sentences(value):
                if is_decision_sentence(sentence):
                    add(sentence)
        if text_col is None or not cell(text_col):
            if role == "decisions" and verdict_col is None:
                # Rows of another shape under a "Decisions" title row of an action log
                # ("D1 | Annual rent stays at £38 …" under "Ref | Raised | Action | …"): the
                # row's one sentence is the decision.
                longest = max(cells, key=len, default="")
                if len(longest.split()) >= 4 and not _UNDECIDED.match(longest):
                    add(longest)
            continue
        if _UNDECIDED.match(cell(status_col)):
            continue  # a decision log's open row: the question, not yet a decision
        verdict = cell(verdict_col)
        if verdict_col is not None:
            # Decision log ("Decision required | Decision") or a review's "Story | Outcome".
            if verdict and (
                "decision" in block.header[verdict_col].lower() or _VERDICT_WORD.match(verdict)
            ):
                add(f"{cell(text_col)}: {verdict}")
            continue
        if verdict := status_verdict(cell(status_col)):
            add(f"{cell(text_col)}: {verdict}")  # "Liability cap | … | Agreed"
            continue
        if "decision" in heading or role == "decisions":
            add(cell(text_col))


def _getter(cells: list[str]):  # type: ignore[no-untyped-def]
    def get(index: int | None) -> str:
        return cells[index] if index is not None and index < len(cells) else ""

    return get
