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
from workers.digest.tables import status_verdict, table_roles
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
# An arrow that marks the outcome of a point ("-> Decision: …", "=> agreed: …") goes too.
_NUMBERING = re.compile(
    r"^(?:(?:\d{1,3}(?:\.\d{1,3})+\.?|\(?[a-z0-9]{1,2}\))\s+(?=\S)|(?:-+>|=+>|[→⇒➔])\s*(?=\w))"
)
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
# A committee's "Action:" line that records what the meeting did with an item ("Action:
# Approved for first reading", "Action taken: Tabled until …"): a verdict, not a task.
_ACTION_VERDICT = re.compile(
    r"^(?:action(?: taken)?|committee action|motion)\s*:\s*(?:approved|tabled|rejected|deferred"
    r"|carried|not (?:approved|carried|accepted)|declined|withdrawn|postponed|adopted)\b",
    re.IGNORECASE,
)
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
    r"|ratified|accepted|rejected|adopted|chosen|selected|shelved|dropped|declined"
    r"|parked|deferred|postponed indefinitely|cancell?ed|called off|scrapped|withdrawn)"
    r"|decision (?:was|has been) (?:made|taken)"
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
    # "Milestones re-baselined (approved by the SRO on 12 November)"
    r"|(?<=\()(?:approved|agreed|endorsed|authori[sz]ed|ratified) by\b"
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
    # A resolution's mood: "that the minutes be confirmed as a correct record", "(b) any one
    # director be authorised to sign", "the Documents be and are hereby approved".
    r"|^\W*(?:that\s+)?(?:the|any|a|an|this|these|all|[A-Z][\w-]+)\b[^.;:]{0,100}?"
    r"(?<!should)(?<!must)(?<!will)(?<!would)(?<!could)(?<!shall)(?<!\bto)(?<!\bmay)"
    r"(?<!might)(?<!\bcan)(?<!needs)(?<!\bneed)(?<!cannot)\s+be (?:and are hereby )?"
    r"(?:approved|authori[sz]ed|instructed|confirmed|recommended|submitted|agreed|adopted"
    r"|appointed|ratified|accepted|endorsed|granted|awarded|requested)\b"
    # A verdict after its topic: "Liability cap: 150% - Agreed", "review moved to DR7
    # (agreed)", "… on 10/12. Approved by consensus."
    # (a plain "accepted" there is how reviews mark work done: "CP-12 Upload: Accepted")
    r"|(?<!status)(?<!state)(?<!stage)(?:\s[-–—]\s|:\s*)(?:agreed|approved)"
    r"(?: by (?:all|consensus|everyone))?\W*$"
    r"|\((?:agreed|approved)\b[^)]{0,50}\)\W*$|\b(?:approved|agreed) by consensus\b"
    r"|\bfine by (?:all|everyone)\b"
    # A point put off by the meeting: "Deferred to the September meeting pending …".
    r"|^\W*(?:deferred|postponed|tabled) (?:to|until)\b"
    # "Agreed with the sponsor that the kiosks are out of scope."
    r"|^\W*agreed with [^.;:]{1,40}?\b(?:that|to)\b"
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
        verdict = _ACTION_VERDICT.match(text)
        return text.strip() if verdict else None
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
    # a group in the plural is no person: "Governors agreed to appoint AM …"
    r"(?![A-Z][a-z]+(?:ors|ers|ees|ants|ents|ists|ians|ives|ves)\s)"
    r"(?:@[\w.-]+|[A-Z][\w'’-]+(?:\s[A-Z][\w'’-]+)?)\s+(?:has\s+|have\s+)?"
    r"(?:agreed|volunteered|offered|promised)\s+to\b",
    re.IGNORECASE,
)


# "Marcus Hale approved the priority actions": a named person's sign-off (case matters).
_NAMED_VERDICT = re.compile(
    r"(?:^|[.;]\s)(?:[A-Z][\w'’-]+ ){1,2}(?:has )?(?:approved|accepted|rejected|vetoed|ratified"
    r"|signed off(?: on)?) (?:the|this|that|a|an)\b"
)


# A settled "no": "The request was not approved", "Not agreed for rev C: …" (not "has not been
# approved yet", "not agreed until …", which are still open).
_NEGATIVE_VERDICT = re.compile(
    r"\b(?:was|were) not (?:approved|accepted|agreed|adopted|endorsed|supported|carried)\b"
    r"|^\W*not (?:agreed|approved|accepted|adopted|supported)\b(?! (?:yet|until|by|with)\b)",
    re.IGNORECASE,
)
_STILL_OPEN = re.compile(r"\b(?:yet|still|until|pending|awaiting|so far)\b", re.IGNORECASE)
# Minutes leave the auxiliary out: "Minutes of the May meeting approved without changes",
# "New date agreed with the supplier for 16/11", "Budget adopted unanimously".
_ELLIPTIC = re.compile(
    r"^\W*(?!(?:i|we|you|he|she|it|they|this|that|who|which|if|when|once)\b)[a-z]"
    # a plain noun phrase before it, not a clause ("DH asked that …, and AM agreed")
    r"(?:(?!\b(?:that|and|but|who|which|because)\b)[^.;:?!,]){2,80}?"
    r"\s(?:approved|accepted|adopted|ratified|agreed|rejected)"
    r"(?:\s+(?:without|as|with|unanimously|by (?:all|consensus)|nem\.? con)\b|\s*,|\W*$)",
    re.IGNORECASE,
)
# What may follow a verdict without taking it back: its condition or the next step ("Deferred
# to September pending the hall's accounts", "agreed to try it for two sprints and then decide
# whether to keep it", "accepted, subject to 4.3 being amended").
_LATER = re.compile(
    r"\W*(?:pending|subject to|whether|unless|until|once|awaiting|to be (?:agreed|decided"
    r"|confirmed|discussed)|tbc|tbd)\b",
    re.IGNORECASE,
)
# "If the grant is refused, the committee agreed that …": a decision for a contingency.
_CONTINGENT = re.compile(r"\b(?:agreed|decided|resolved|voted)\s+(?:that|to)\b", re.IGNORECASE)


# "…, and Lorna agreed to look at whether …": a task someone took, inside a longer sentence.
_TAKEN = re.compile(
    # (after a comma or "and": a sentence that opens on a name is _COMMITMENT's to judge)
    r"(?:[,;]\s*|\band\s+)(?!(?:The|This|That|It|We|They|All|Everyone|Members|Committee"
    r"|Board|Team|Group|Council|Both)\b)(?:@[\w.-]+"
    r"|[A-Z][\w'’-]+(?: [A-Z][\w'’-]+)?) (?:has |had )?(?:agreed|volunteered|offered|promised)"
    r" to [a-z]"
    # "The author (hollow) agreed to send v2": a role with its nick in brackets
    r"|^\W*(?:[Tt]he\s+)?[\w-]+\s\([^)]{1,30}\)\s(?:has |had )?(?:agreed|volunteered|offered"
    r"|promised) to [a-z]"
)


# A date that moved as the consequence of something that happened is a slip, not a decision:
# "As a result the start on site moves from 7 to 21 September", "Pilot moved to 23 November:
# the SSO testing failed twice" (unless someone approved or agreed it). A move the meeting
# states with its reason ("moved to 14 October because of the regression") stays a decision.
_MOVE = re.compile(
    r"\b(?:mov(?:e|es|ed)|pushed|postponed|rescheduled|slip\w*|re-?baselined)\b", re.I
)
_CAUSE = re.compile(
    r"^\W*(?:as a result|consequently|in consequence)\b|\b(?:failed|fell through)\b",
    re.IGNORECASE,
)
_AUTHORITY = re.compile(r"\b(?:approved|agreed|decided|resolved|confirmed by|signed off)\b", re.I)


_ASIDE_END = re.compile(r"(?:\s*\([^()]*\))*[\s)]*$")
_REFERS_BACK = re.compile(
    r"\b(?:what|as) (?:we|you|they|the \w+) (?:had |have )?(?:agreed|decided)(?: (?:there|then"
    r"|on|at|in)\b|\W*$)",
    re.IGNORECASE,
)


def is_decision_sentence(sentence: str) -> bool:
    if _COMMITMENT.match(sentence) or _TAKEN.search(sentence):
        return False  # "@svalente agreed to collect …" is a task someone took
    if _ASIDE_END.sub("", sentence).endswith("?"):
        return False  # "Do we need the flag? (nobody knows, ask product)"
    if _REFERS_BACK.search(sentence):
        return False  # "the report reflects what we agreed there" points at a decision
    if _NEGATIVE_VERDICT.search(sentence) and not _STILL_OPEN.search(sentence):
        return True
    hit = _SENTENCE.search(sentence) or _NAMED_VERDICT.search(sentence)
    hit = hit or _ELLIPTIC.search(sentence)
    if not hit:
        return False
    if _MOVE.search(hit.group(0)) and _CAUSE.search(sentence) and not _AUTHORITY.search(sentence):
        return False
    hedge = _NOT.search(sentence)
    if not hedge:
        return True
    if hedge.start() >= hit.end() and _LATER.match(hedge.group(0)):
        return True  # the verdict comes first; what follows is its condition or next step
    settled = _CONTINGENT.search(sentence, hit.start())
    if (
        settled
        and hedge.start() >= max(settled.end(), hit.end())
        and not re.match(r"\W*if\b", hedge.group(0), re.IGNORECASE)
    ):
        # "The Committee AGREED to recommend the accounts … for approval" (not "We agreed to
        # ship if the board approves": that hangs on another vote)
        return True
    return bool(re.fullmatch(r"\W*if", hedge.group(0), re.IGNORECASE)) and bool(
        _CONTINGENT.search(sentence, hit.start())
    )


def extract_decisions(sections: list[Section]) -> list[str]:
    found: list[str] = []
    seen: set[str] = set()
    said: list[frozenset[str]] = []
    refs: set[str] = set()  # item references already decided ("CR-024", "D3")

    def add(text: str, ref: str = "") -> None:
        text = " ".join(text.split()).strip(" -–—*")
        key = re.sub(r"\W+", " ", text.lower()).strip()
        if len(text) < 8 or key in seen or len(found) >= MAX_DECISIONS:
            return
        if _NOT_AN_ENTRY.match(text):
            return
        tokens = topic_tokens(text)
        if restates(tokens, said):
            return  # the same decision again (a summary, the bot's list after the log)
        lead = _REF.match(text)
        ref = (ref or (lead.group(1) if lead else "")).upper()
        if ref and ref in refs:
            return  # "CR-024 cycle counting. … Approved unanimously." after the CR table
        if ref:
            refs.add(ref)
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
                hedge = _NOT.search(labelled)
                if (
                    not hedge
                    or section.role == "decisions"
                    or _VERDICT_LEAD.match(labelled)
                    # "RESOLVED: that the policy be approved subject to the amendment"
                    or (hedge.start() > 0 and _LATER.match(hedge.group(0)))
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
                and not _minuted_sentence(section.role, block)
            ):
                # Only a question answered on the spot ("… blurry photos? Interesting, but no").
                if section.role not in _NO_ANSWERS:
                    for index in range(1, len(parts)):
                        if _answered(parts[index - 1], parts[index]):
                            add(f"{parts[index - 1]} {parts[index]}")
                continue
            for index, sentence in enumerate(parts):
                inline = decision_label(sentence)  # "… compared. Agreed: to award the contract."
                if inline and index and len(inline.split()) <= 3:
                    add(f"{parts[index - 1]} {inline}")  # "ENVS 215, … Action: Approved."
                elif inline:
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


def _minuted_sentence(role: str, block: Block) -> bool:
    """A full sentence under "Welcome and apologies" ("1.2 The minutes of the last meeting
    were approved."): the meeting's business, minuted where the names are."""
    text = block.text.strip()
    return (
        role == "attendees"
        and block.kind == "paragraph"
        and len(text.split()) >= 6
        and text.endswith(".")
        and not re.search(r"\b(?:present|apologies|attendees|absent|regrets)\s*:", text, re.I)
    )


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
    # (a topic within one sentence: "… by the department. Action: Approved." is read per
    # sentence below)
    r"(?:[^:.]|\.(?!\s)){3,120}(?::|\s[-–—]\s)\s*(?:rejected|declined|ruled out|discarded"
    r"|not chosen"
    r"|shelved|dropped|approved|deferred|not (?:approved|accepted))\b"
    # A proposal's own verdict may be a plain "accepted": "ADR-0040 Outbox pattern: Accepted".
    r"|^\W*(?:adr|rfc|pep|kep|proposal|change request|cr|chg)\b[^:]{0,100}(?::|\s[-–—]\s)\s*"
    r"accepted\b",
    re.IGNORECASE,
)
_TRAILING_VERDICT = re.compile(r"[.;]\s+(?:agreed|approved|accepted|adopted)[.!]?\s*$", re.I)
_BARE_VERDICT = re.compile(r"^\W*(?:agreed|approved|accepted|adopted|rejected)\W*$", re.I)
_VERDICT_FIRST = re.compile(
    r"^\W*(?:agreed|approved|accepted|rejected|adopted|declined|deferred|tabled|postponed)\b", re.I
)
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
    r"|cab decision|board decision|(?:\w+ )?approved\??|accepted\??)",
    re.IGNORECASE,
)
_VERDICT_WORD = re.compile(
    r"^\W*(?:approved|rejected|deferred|declined|agreed|adopted|postponed|not (?:accepted"
    r"|approved)|accepted\b.+|approved\b|withdrawn|refused|accept\b|reject\b)",
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
    if "text" not in roles and text_col is not None and verdict_col is None:
        # "CR | Change | Cost | Decision" with "Approved" / "Rejected: …" in the Decision
        # column: that column holds verdicts; the topic is the row's longest other cell.
        verdicts = [row[text_col] for row in block.rows if text_col < len(row)]
        if verdicts and sum(bool(_VERDICT_WORD.match(v)) for v in verdicts) * 2 > len(verdicts):
            topic = _topic_column(block, text_col)
            if topic is not None:
                text_col, verdict_col = topic, text_col
    if verdict_col is None and status_col is not None and len(block.rows) >= 2:
        # A change log's Status column that says Approved / Rejected / Deferred per row.
        values = [row[status_col] for row in block.rows if status_col < len(row)]
        if sum(bool(_VERDICT_WORD.match(v)) for v in values) * 2 > len(values):
            verdict_col = status_col
            status_col = None
    if verdict_col is not None and text_col is not None:
        # "Ref | Measure | Residual risk | Measure approved": a text column of level words
        # ("Low", "Medium") is no topic; the wordiest column is.
        texts = [row[text_col].strip().lower() for row in block.rows if text_col < len(row)]
        if texts and all(_LEVEL.fullmatch(t) for t in texts):
            topic = _topic_column(block, verdict_col)
            if topic is not None:
                text_col = topic
    # A table with no owner, due or verdict column (a timeline, an item list): its text
    # cells are read for decided sentences like any other cell.
    plain = not ({"owner", "due", "decision"} & roles.keys()) and verdict_col is None
    heading = block.header[text_col].lower() if text_col is not None else ""
    topics = [
        row[text_col].strip() for row in block.rows if text_col is not None and text_col < len(row)
    ]
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
            if (index == text_col and not plain) or index == verdict_col:
                continue  # the verdict column is paired with its topic below
            if _CELL_LABEL.match(value):
                continue
            if len(value.split()) < 4:
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
            named = block.header[verdict_col].lower()
            if verdict and (
                "decision" in named
                or _VERDICT_WORD.match(verdict)
                or ("approved" in named and re.match(r"^\W*(?:yes|no)\b", verdict, re.I))
            ):
                # the row's reference ("CR-024"), so that the minutes' prose on the same
                # item later is known for a restatement
                ref = next((c for c in cells if _REF.fullmatch(c)), "")
                topic = cell(text_col)
                if ref and topics.count(topic) > 1:
                    topic = f"{ref} {topic}"  # "Speaker" on several rows: the row's reference
                add(f"{topic}: {verdict}", ref)
            continue
        if verdict := status_verdict(cell(status_col)):
            add(f"{cell(text_col)}: {verdict}")  # "Liability cap | … | Agreed"
            continue
        if "decision" in heading or role == "decisions":
            add(cell(text_col))


# An item's reference at the start of a line: "CR-024", "RFC-12", "D3", "ADR-0031".
_REF = re.compile(r"^\W*([A-Z]{1,6}-?\d{1,5})\b\W*")


_LEVEL = re.compile(r"low|medium|moderate|high|critical|minor|major|red|amber|green|[lmh]|-*")


def _topic_column(block: Block, skip: int) -> int | None:
    """The column with the longest texts (not numbers or amounts), other than ``skip``."""
    best, best_length = None, 0.0
    for index in range(len(block.header)):
        if index == skip:
            continue
        values = [row[index] for row in block.rows if index < len(row)]
        wordy = [v for v in values if re.search(r"[a-z]{3}", v, re.IGNORECASE)]
        if len(wordy) * 5 < len(block.rows) * 4:
            continue  # mostly numbers, or a notes column filled on a few rows only
        length = sum(len(v) for v in values) / max(1, len(values))
        if length > best_length:
            best, best_length = index, length
    return best


def _getter(cells: list[str]):  # type: ignore[no-untyped-def]
    def get(index: int | None) -> str:
        return cells[index] if index is not None and index < len(cells) else ""

    return get
