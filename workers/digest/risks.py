"""Risks and blockers: threats, concerns, dependencies and waits — with severity and category.

* every item of a risks/blockers section (not a question, not a "none");
* labelled lines: ``Risk:``, ``Issue:``, ``Blocker:``, ``Concern:``, ``Dependency:``;
* risk registers: a table with a risk/issue column, or likelihood/impact columns (severity
  from a severity column, else likelihood × impact);
* sentences that state a threat or a wait: "risk that", "at risk", "blocked on/by", "waiting
  on/for", "depends on", "required before", "concerned about", "may slip"…; not sentences
  about the risk process ("risks are reviewed weekly") and not "no risks";
* more layouts: "One flag:" / "Heads-up:" / "Caveat:" labels, numbered minutes ("5.3
  Concern: …"), an exposure "until X ships", waits in the notes of a checklist or RAG table,
  ROAM rows marked Resolved skipped; a rating ("Normal / High risk") states no risk and a
  key/value fact sheet ("Project status | AT RISK") is no register.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from workers.digest.blocks import Block
from workers.digest.sections import Section, heading_role, is_discussion
from workers.digest.tables import RISK_TYPES, column_roles, is_done_status, open_row_notes
from workers.digest.words import (
    BOILERPLATE,
    META_LINE,
    clip,
    field_line,
    level_word,
    numeric_level,
    restates,
    sentences,
    topic_tokens,
)

MAX_RISKS = 50
_LEVELS = ("low", "medium", "high")

_LABEL = re.compile(
    r"^(?:\[\s*)?(?P<label>risks?|r\d{1,3}|risk[- ]\d{1,4}|issues?|blockers?|blocked|blocking"
    r"|concerns?|dependency|dependencies"
    r"|impediments?|threat|known issues?|(?:one |a |another |red )?flag|heads[- ]?up|caveat"
    r"|warning|worry"
    r"|watch(?:[- ]?out)?)\s*(?:\]\s*)?(?:#?\d+)?\s*(?:\((?P<qual>[^)]{1,40})\)|\[(?P<qual2>"
    r"[^\]]{1,40})\])?\s*(?::|\s[-–—]\s)\s*(?P<body>.+)$",
    re.IGNORECASE | re.DOTALL,
)
_WORDS = re.compile(
    r"\b(?:risks?\b(?! register| log| review| workshop| management| owner| assessment|\s*#?\d"
    r"| committee| narrative| officer| appetite| lead\b| manager| matrix| score| rating| report"
    r"| allowance| questionnaire)"
    r"|at risk"
    r"|threat|concerned (?:that|about|with|over|by)"
    r"|(?:^|\b(?:a|the|one|main|key|some|major|raised?|raises|no|our|my|his"
    r"|her|their|real|big|serious|shares?)\s+)concerns?\b|concerns?\s+(?:that|about|over"
    r"|around|regarding|with|is|are|was|were|remains?|raised)\b|jeopardi[sz]\w*|blockers?"
    r"|showstopper|blocked (?:on|by)"
    r"|(?:is|are|remains?|still) blocked|waiting (?:on|for)|still waiting|depends on"
    r"|dependent on|dependency on|required before|needed before|must land before"
    r"|may (?:not|delay|slip|miss|exceed|fail)|might (?:not|delay|slip|miss|exceed|fail)"
    r"|could (?:delay|slip|miss|exceed|impact|affect|jeopardi[sz]e|fail|prevent|block)"
    r"|likely to (?:slip|overrun|be late|miss|exceed)|has slipped|is slipping|behind schedule"
    r"|over budget|overrun|worried|bottleneck|single point of failure|understaffed"
    r"|overloaded|overstretched|stretched (?:too )?thin|no (?:spare )?capacity"
    r"|no (?:one|owner|maintainer) (?:for|to)|bus factor|liabilit(?:y|ies)|exposes? (?:us|the)"
    r"|cannot (?:start|proceed|continue|go ahead|ship|launch|release|be completed|begin|finish)"
    r"|can't (?:start|proceed|continue|ship|release)|stuck|burn-?out|weak (?:point|spot)"
    r"|weakest|watch out|(?:thing|one) to watch|keep an eye on|in trouble"
    r"|(?:will be|is being|to be|are being) deprecated|deprecation (?:lands|is planned|date"
    r"|deadline)|deprecat\w+ (?:in|by|from) (?:the )?(?:next|upcoming|\w+ \d|\d|january|february"
    r"|march|april|may|june|july|august|september|october|november|december)"
    r"|(?:will|would) break|end of life|no longer supported|unsupported|at stake"
    r"|only (?:one|two|three) (?:person|people|developers?|maintainers?|engineers?|adopters?)"
    r"|only \w+ knows|would (?:delay|slip|overrun|exceed|block|break|miss)"
    r"|(?:be|been|is|are) exceeded|will (?:be (?:late|missed|delayed)|slip|overrun)"
    r"|shortage of"
    r"|(?:has|have|had) not (?:yet )?(?:reviewed|confirmed|approved|signed|replied|responded"
    r"|committed|agreed|booked|delivered)\b"
    r"|\bdepend (?:on|upon)\b|will (?:end|stop|drop|withdraw|discontinue|retire|sunset)\b"
    r"|expires? (?:on|in|at|before|soon)|will expire|expiring|not (?:yet )?fixed"
    r"|\bi object\b|\bobject(?:s|ed)? to\b|raised an objection"
    r"|(?:is|are|was|were|has been|have been) not (?:yet )?(?:confirmed|replaced|staffed|funded"
    r"|signed|scheduled|available)|not (?:yet )?(?:confirmed|replaced|scheduled) yet"
    r"|reduced (?:review )?capacity|under embargo|embargoed"
    r"|can(?:'t|’t|not) (?:go (?:in|into|out|live|public)|be (?:released|published|merged"
    r"|shipped|announced|disclosed))"
    # A condition and its harm: "if 0.4 slips again they will freeze on 0.3", "If it lapses,
    # the planner falls back to timetable data", "if the campaign falls short we will have to
    # cut the travel grants" (a decimal point does not end the clause).
    r"|\bif\b(?:[^.;]|\.(?=\d)){3,120}\b(?:cannot|can't|won't|will not|would not|breaks?|fails?"
    r"|slips?|costs?|lose|loses|miss(?:es)?|moves? online|(?:is|gets|will be) (?:cancell?ed"
    r"|postponed|delayed|dropped)|(?:will|would|may) (?:have|need) to|(?:has|have) to be"
    r"|(?:will )?falls? back|will freeze|stays? on the old|be cancell?ed)\b"
    # Something that cannot happen until, without or before something else, or could not
    # because of it: "without them CP-352 cannot be tested", "cannot be built before it".
    r"|\b(?:cannot|can't|can not)\s+(?:be\s+)?\w+\b(?:[^.;]|\.(?=\d)){0,60}\b(?:until|without"
    r"|before|unless)\b|\bwithout\b[^.;]{1,60}\b(?:cannot|can't|will not|won't)\b"
    r"|\b(?:could not|couldn't|was unable to|were unable to)\b[^.;]{0,60}\bbecause\b"
    # A gap nobody has filled: "nobody has started the renewal", "no volunteer group has
    # offered yet", "Landlord has not answered", "the fallback has not been tested".
    r"|\b(?:nobody|no one|no-one)\s+(?:has|have|is|was)\s+(?:yet\s+)?(?:\w+\s+)?(?:started"
    r"|signed up|replied|answered|volunteered|offered|free|available|picked|taken)\b"
    r"|\bno \w+(?: \w+)? (?:has|have) (?:yet )?(?:offered|volunteered|signed up|replied|come"
    r" forward)\b(?: yet)?"
    r"|(?:has|have|had) not (?:yet )?(?:answered|been tested|been contracted)\b"
    r"|\bnot (?:contracted|tested|booked|funded|staffed|signed|confirmed) yet\b"
    # Exposure that lasts until a fix: "has the same restart behaviour until NOT-12 ships".
    r"|\b(?:same|still|remains?|stays?)\b[^.;]{3,80}\buntil\b[^.;]{2,60}\b(?:ships|lands"
    r"|is (?:fixed|deployed|released|merged|done|rolled out))"
    # "Until action 4 ships, any replica lag will again show users stale data."
    r"|^\W*until\b[^.;,]{2,60}\b(?:ships|lands|is (?:fixed|deployed|released|merged|done"
    r"|rolled out)),[^.;]{0,80}\b(?:will|would|can|could|may)\b"
    # Something overdue or still outstanding: "still not signed", "3 weeks late", "chased 3
    # times", "nothing back yet", "no date given by them yet", "slipped once already".
    r"|\bstill (?:not|no|has not|hasn't|have not|haven't)\b"
    # (late now, not late when it shipped: "shipped two days late" is history)
    r"|\b(?:is|are|now|still) (?:\d+|one|two|three|four|five|six) (?:working )?(?:days?|weeks?"
    r"|months?) (?:late|overdue)\b|\b(?:\d+|one|two|three|four|five|six) (?:working )?(?:days?"
    r"|weeks?|months?) overdue\b|\bbehind (?:programme|plan)\b|\b(?:is|are|now) overdue\b"
    r"|\bchased (?:\d+ times|twice|three times)\b|\bnothing (?:back|heard) yet\b"
    r"|\bno date given\b|\bnot responding\b|\bslipped (?:once|again|twice)\b"
    r"|\ba further slip\b|\bslips? again\b"
    # A warning given: "Both warned that steel prices may rise 8 to 12%".
    r"|\bwarn(?:ed|s|ing)? (?:that|of|about)\b"
    r"|\b(?:could|may|might) (?:use up|run out|eat (?:into|up)|wipe out|rise|increase)\b"
    # A risk told by its consequence (digest6b): "upgrading might break the picker", "the
    # trial may cannibalise annual plans", "the locale may be dropped", "DVT must be
    # postponed", "the budget line will be exhausted", "only two weeks of buffer".
    r"|\b(?:could|may|might|would|will) (?:break|affect|impact|hurt|damage|cannibali[sz]e|push)\b"
    r"|\b(?:could|may|might) (?:be )?(?:dropped|cut|lost|cancell?ed|postponed|affected)\b"
    r"|\b(?:must|will|would) (?:have to )?be (?:postponed|exhausted|delayed|cancell?ed)\b"
    r"|\b(?:margin|headroom|buffer|contingency) (?:is |looks |now )?(?:too |very )?(?:thin"
    r"|small|tight)\b|\bonly (?:\w+ ){1,3}(?:of )?(?:buffer|margin|headroom|float)\b"
    r"|\b(?:is|are|looks?|already|very|too) tight\b|\bunder pressure\b"
    # A wait nobody answers: "no feedback", "chased, not received", "Legal view awaited".
    r"|\bnot (?:yet )?received\b|(?<!is )\bno (?:feedback|response|reply|answer)\b|\bawaited\b"
    r"|\bwaiting (?:\w+ )?(?:signature|approval|sign-?off)\b|\baguardando\b"
    r"|\bstill (?:disputed|with|unsigned|unresolved|crash\w*)\b"
    # (now, not history: "were delayed by up to 6h", "have slipped before" are the past)
    r"|\b(?:has|have) (?:already )?slipped\b(?! before)|(?<!were )(?<!was )\bdelay(?:ed|s)? (?:by"
    r"|in|because of|due to)\b"
    r"|\b(?:is|are|was|were|not) sustainable\b|\bisn't sustainable\b"
    r"|\bcannot (?:support|meet|cover|afford)\b|\b(?:would|could) not (?:meet|run|cover"
    r"|afford)\b|\b(?:flagged|raised) that\b"
    # A single point of failure said plainly: "only 2 volunteers can drive the trailer",
    # "only two maintainers know the code", "she is our only tester".
    r"|\bonly (?:one|two|three|\d) (?:\w+ ){1,2}(?:can|could|know|knows|is able|are able)\b"
    r"|\b(?:is|are) (?:our|the team's|the) only \w+"
    r"|\bconcerned (?:this|that|the|it|\w+ (?:is|are|was|were|will|may|might))\b"
    # A harm on a condition that fails: "If X is not done by then, a repeat would go unnoticed".
    r"|\bif\b[^.;]{0,80}\b(?:not|n't|no|continues|grows|early|again|away)\b[^.;]{0,100}"
    r"\b(?:would|could|cannot|can't|must be|will be|short|nobody|no one)\b)",
    re.IGNORECASE,
)
_NO_RISK = re.compile(
    r"\b(?:no (?:new )?(?:risks?|blockers?|concerns?|issues)|nothing blocking|not blocked"
    r"|risks? (?:\w+ ){0,3}(?:are|is|were|was|will be) (?:reviewed|tracked|logged|managed"
    r"|escalated|monitored|recorded|discussed|updated)|no longer blocked|unblocked"
    r"|was resolved|has been resolved|were resolved"
    r"|(?:blockers?|risks?|issues?|concerns?)\b[^.;]{0,30}\b(?:was|were|has been|have been|is|are)"
    r" (?:now )?(?:cleared|removed|lifted|gone|closed|fixed|mitigated|retired)"
    r"|no longer (?:considered |seen as |treated as )?(?:an? )?(?:\w+ )?(?:blocker|risk|blocking)"
    # "a low-risk change", "the risk of data loss is low", "concerns were addressed"
    r"|(?:low|minimal|negligible|no)[- ]risk|risk (?:of [^.;]{1,40} )?(?:is|was|remains|seems)"
    r" (?:low|minimal|negligible|small)|concerns? (?:were|was|have been|has been|are|is)"
    r" (?:addressed|resolved|answered|cleared|closed))\b"
    r"|:\s*(?:none|n/?a|nil|0)\W*$"
    r"|^\W*(?:i|we) (?:propose|suggest)\b|^\W*(?:proposal|idea|suggestion)\s*:"
    # Presenting the log is the process: "LP presented the top risks from the RAID log".
    r"|\b(?:presented|reviewed|walked through|went through|summari[sz]ed)\b[^.;]{0,25}\brisks\b"
    # Keeping the log is a task: "I'll update the RAID log with the rights data risk".
    r"|\b(?:update|add|log|record|enter|put)\b[^.;]{0,40}\b(?:raid|risk) (?:log|register)\b"
    r"|\bno objections?\b"
    # "CHG0041872 Core switch upgrade  Normal / High risk": a change's rating, not a risk.
    r"|\b(?:low|medium|high)[- ]risk\s*$",
    re.IGNORECASE,
)
_NOT_AN_ENTRY = re.compile(
    r"^(?:\(?none\)?|n/?a|nothing|nil|no(?:ne)? (?:\w+ ?){0,3})\.?$"
    r"|^\W*(?:at risk|on track|off track|red|amber|green|blocked)\W*$",  # a status value alone
    re.I,
)
_SEVERITY_PREFIX = re.compile(
    r"^\(?(?P<level>critical|high|medium|moderate|low|severe|major|minor|red|amber|green)\)?"
    r"\s*(?:risk|severity|impact|priority)?\s*[:\-–—]\s+(?P<body>.+)$",
    re.IGNORECASE,
)
_HIGH_WORDS = re.compile(
    r"\b(?:critical|severe|severity\s*[:=]?\s*high|high(?:\s+|-)(?:risk|severity|impact|"
    r"likelihood|probability)|major|showstopper|blocker|blocked|cannot go live|significant)\b",
    re.IGNORECASE,
)
_EXPLICIT_LEVEL = re.compile(
    r"(?:\b(?:severity|impact|rating|risk level|priority|rated|level)\s*(?:is\s*)?[:=\-]?\s*"
    r"(?P<a>critical|high|medium|moderate|low|h|m|l)\b)"
    r"|(?:\b(?P<b>critical|high|medium|moderate|low)[- ](?:risk|severity|impact|priority)\b)"
    r"|(?:[(\[](?P<c>critical|high|medium|moderate|low|h|m|l)[)\]])",
    re.IGNORECASE,
)
_LOW_WORDS = re.compile(r"\b(?:minor|slight|negligible|small|unlikely)\b", re.IGNORECASE)

_CATEGORIES: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "compliance",
        re.compile(
            r"\b(complian\w*|regulat\w*|gdpr|legal|audit\w*|licen[cs]e terms|privacy|"
            r"data protection|statutory|policy breach|sox|hipaa|iso ?27001)\b"
        ),
    ),
    (
        "budget",
        re.compile(
            r"\b(budget\w*|costs?|overspend|overrun|funding|spend|price\w*|expens\w*|"
            r"financ\w*|contingency|£|\$|€)"
        ),
    ),
    (
        "resource",
        re.compile(
            r"\b(resourc\w*|staff\w*|headcount|availab\w*|capacity|attrition|leav\w+|"
            r"recruit\w*|skills?|key person|contractors?|developers?|users? unavailable|"
            r"holidays?|sickness|unavailable|loss of|engineers?|key (?:person|people|staff)|"
            r"single point of failure|maintainers?|volunteers?|bus factor)\b"
        ),
    ),
    ("scope", re.compile(r"\b(scope|requirements?|change requests?|creep|feature requests?)\b")),
    (
        "schedule",
        re.compile(
            r"\b(schedul\w*|delay\w*|late|slip\w*|deadline|timeline|milestone|on time|"
            r"behind|go-live|critical path|postpon\w*|waiting|blocked)\b"
        ),
    ),
    (
        "technical",
        re.compile(
            r"\b(technical|integration|performance|api|interface|outage|defects?|bugs?|"
            r"architecture|infrastructure|servers?|migration|security|vulnerab\w*|load|"
            r"latency|response times?|database|system|software|hardware|network|ci|build)\b"
        ),
    ),
)
_CATEGORY_ALIASES = {
    "schedule": "schedule",
    "time": "schedule",
    "timeline": "schedule",
    "budget": "budget",
    "cost": "budget",
    "financial": "budget",
    "finance": "budget",
    "resource": "resource",
    "resources": "resource",
    "people": "resource",
    "staffing": "resource",
    "technical": "technical",
    "technology": "technical",
    "security": "technical",
    "quality": "technical",
    "scope": "scope",
    "requirements": "scope",
    "compliance": "compliance",
    "legal": "compliance",
    "regulatory": "compliance",
}
# Sections whose sentences do not state this project's risks.
_QUIET = {"background", "agenda", "questions", "attendees", "consequences", "done", "decisions"}


# A sentence that goes on about the risk before it: "Our CI depends on that tier.", "If it
# isn't fixed the RC slips.", "This would delay …".
_CONTINUES = re.compile(
    r"^\W*(?:if|this|that|these|those|it|its|it's|our|we|we're|they|their|so|which|otherwise"
    r"|then|and|but|as a result|in that case|that would|which would)\b",
    re.IGNORECASE,
)


def category(text: str) -> str:
    lowered = text.lower()
    for name, pattern in _CATEGORIES:
        if pattern.search(lowered):
            return name
    return "other"


def severity(text: str) -> str:
    explicit = _EXPLICIT_LEVEL.search(text)
    if explicit:
        return level_word(explicit.group("a") or explicit.group("b") or explicit.group("c"))
    if _HIGH_WORDS.search(text):
        return "high"
    if _LOW_WORDS.search(text):
        return "low"
    return "medium"


# A rating, not a statement: "CHG0041 firmware upgrade, DC2  Normal / High risk".
_RATING = re.compile(
    r"\b(?:low|medium|moderate|high|normal|minor|major)(?:[- ]risk)\s*(?:change|item)?\W*$",
    re.IGNORECASE,
)
# A minute's own numbering ("5.3 ", "(b) ") before a label.
_NUMBERING = re.compile(r"^(?:\d{1,3}(?:\.\d{1,3})+\.?|\(?[a-z0-9]{1,2}\))\s+(?=\S)")


# A rating given as a field in a change's line: "Scheduler upgrade v9.4. Risk: High. Window Sun".
_RATING_FIELD = re.compile(
    r"\brisk(?: level| rating)?\s*[:=]\s*(?:low|medium|moderate|high|normal|minor|major"
    r"|critical)\b\.?",
    re.IGNORECASE,
)


def is_risk_sentence(sentence: str) -> bool:
    if _RATING.search(sentence):
        sentence = _RATING.sub("", sentence)
    if _RATING_FIELD.search(sentence):
        sentence = _RATING_FIELD.sub("", sentence)
    return bool(_WORDS.search(sentence)) and not _NO_RISK.search(sentence)


class RiskList:
    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []
        self._seen: set[str] = set()
        self._said: list[frozenset[str]] = []

    def add(self, text: str, *, level: str | None = None, kind: str | None = None) -> None:
        text = " ".join(text.split()).strip(" -–—*")
        key = re.sub(r"\W+", " ", text.lower()).strip()
        if len(text) < 8 or key in self._seen or len(self.items) >= MAX_RISKS:
            return
        if _NOT_AN_ENTRY.match(text):
            return
        tokens = topic_tokens(text)
        if restates(tokens, self._said):
            return  # the same risk again (a register row repeated in prose or a summary)
        self._said.append(tokens)
        self._seen.add(key)
        self.items.append(
            {
                "text": clip(text),
                "severity": level or severity(text),
                "category": kind or category(text),
            }
        )


def extract_risks(sections: list[Section]) -> list[dict[str, Any]]:
    found = RiskList()
    for section in sections:
        _risky_heading(section, found)
        # Prose beside a register's table or list is its preamble, not a risk of its own.
        listed = any(b.kind in {"list_item", "table"} for b in section.blocks)
        for block in section.blocks:
            if block.kind in {"quote", "heading", "rule"}:
                continue
            if block.kind == "table":
                _register(block, section.role, found)
                continue
            text = block.text.strip()
            label = _LABEL.match(_NUMBERING.sub("", text))
            if (
                label
                and label.group("label").lower().startswith("issue")
                and re.match(r"^\W*issues?\s*#?\d", text, re.IGNORECASE)
            ):
                label = None  # "Issue 88: discovery over BLE" names a tracker topic
            if label:
                qualifier = label.group("qual") or label.group("qual2")
                level = numeric_level(qualifier) if qualifier else None
                body = label.group("body")
                if not _NO_RISK.search(body) or section.role == "risks":
                    found.add(body, level=_LEVELS[level - 1] if level else None)
                continue
            if BOILERPLATE.search(text):
                continue
            if (
                section.role == "risks"
                and not section.intro
                and block.kind != "speaker"
                and not (listed and block.kind == "paragraph")
            ):
                if (
                    (field_line(text) and len(text.split()) <= 8)
                    or META_LINE.match(text)
                    or text.rstrip(")").endswith("?")
                    or (text.endswith(":") and len(text) < 60)
                ):
                    continue
                if _NO_RISK.search(text) and not _WORDS.search(_NO_RISK.sub("", text)):
                    continue
                prefix = _SEVERITY_PREFIX.match(text)
                if prefix:
                    found.add(prefix.group("body"), level=level_word(prefix.group("level")))
                else:
                    found.add(text)
                continue
            if (
                section.role in _QUIET
                and not section.minuted
                and not is_discussion(section.role, block)
            ):
                continue
            # Risk sentences back to back state one risk and its effect ("The provider ends
            # its free tier on 1 March. Our CI depends on that tier."): one entry.
            run: list[str] = []
            for sentence in sentences(text) if len(text) < 3000 else []:
                if is_risk_sentence(sentence) and not sentence.rstrip(")").endswith("?"):
                    if run and not _CONTINUES.match(sentence):
                        found.add(" ".join(run))  # "Marguerite raised a concern …": another
                        run = []
                    run.append(sentence)
                    continue
                if run:
                    found.add(" ".join(run))
                run = []
            if run:
                found.add(" ".join(run))
    return found.items


def _risky_heading(section: Section, found: RiskList) -> None:
    """A heading that is itself a risk's sentence: "Concern: 3 of 9 tests have no owner" set
    as a heading, or a row of an export read as a title ("Land not secured - may need a
    compulsory purchase, adds 9 months"). A heading naming a topic ("Risks for 2027",
    "Identify and assess risks") has a role of its own or too few words."""
    text = section.heading.strip()
    if not text or section.heading_block is None or text.rstrip(")").endswith("?"):
        return
    label = _LABEL.match(_NUMBERING.sub("", text))
    if label and not label.group("label").lower().startswith("issue"):
        body = label.group("body")
        if len(body.split()) >= 4 and not _NO_RISK.search(body):
            found.add(body)
        return
    if len(text.split()) >= 7 and heading_role(text) is None and is_risk_sentence(text):
        found.add(text)


def _register(block: Block, role: str, found: RiskList) -> None:
    """Rows of a risk register (or any table in a risks section)."""
    roles = column_roles(block.header)
    text_col = roles.get("text")
    for note in open_row_notes(block.header, block.rows):
        if is_risk_sentence(note) and not _LABEL.match(note):
            found.add(note)  # "may miss RC" in the Notes of a tracker's open row
    if text_col is None:
        _waits_in_cells(block, -1, found)  # a checklist or RAG table: its notes may wait
        return
    heading = block.header[text_col].lower()
    if _STATUS_VALUE.match(heading):
        return  # "Project status | AT RISK" over key/value rows: a fact sheet, not a register
    typed = _raid_typed(block, roles)
    # A change log's "Cost / schedule impact" beside its Decision column rates a change, not
    # a threat: a table that records verdicts is no register unless it says likelihood.
    decided = any(_VERDICT_HEADER.fullmatch(c.lower().strip(" :*_")) for c in block.header)
    named = bool(re.search(r"\brisk|\bissue|\bblocker|\bconcern", heading))
    if decided and named and not re.match(r"^\W*(?:risk|issue|blocker|concern)", heading):
        named = False  # "Change | Description / risk | Outcome": a change log rating its changes
    is_register = named or ("likelihood" in roles or ("impact" in roles and not decided) or typed)
    if role == "risks":
        # Rows of another shape under a "Key risks" title row of an action log ("R-12 |
        # Migration trial 2 depends on …" in the Date raised column): the row's sentence.
        for row in block.rows:
            if not _cell(row)(text_col):
                longest = max((v.strip() for v in row), key=len, default="")
                if len(longest.split()) >= 4 and not _NO_RISK.search(longest):
                    found.add(longest)
    if not (is_register or (role == "risks" and "decision" not in heading)):
        _waits_in_cells(block, text_col, found)
        return
    if re.search(r"\b(?:action|task|what|next step)", heading) and not is_register:
        return
    for row in block.rows:
        cell = _cell(row)
        text = cell(text_col)
        if not text:
            continue
        status = cell(roles.get("status")).lower()
        if (
            status.split(" ")[0] in _CLOSED
            or is_done_status(status)
            or any(value.strip().lower() in _CLOSED for i, value in enumerate(row) if i != text_col)
        ):
            continue  # closed in the status column, or in a ROAM column ("Resolved")
        if typed and cell(roles.get("category")).lower() not in RISK_TYPES:
            continue  # an assumption or a decision row of a RAID log
        found.add(
            text,
            level=_register_severity(cell, roles),
            kind=_CATEGORY_ALIASES.get(cell(roles.get("category")).lower()) or category(text),
        )


_CLOSED = {"closed", "resolved", "done", "retired"}
_VERDICT_HEADER = re.compile(r"(?:decisions?|outcome|resolution|verdict|ruling|cab decision)")
_STATUS_VALUE = re.compile(r"^\W*(?:at risk|on track|off track|red|amber|green|rag)\W*$")

# What an action log's update column says when a task is stuck: "waiting on the chair's diary".
_WAIT = re.compile(
    r"\b(?:waiting (?:on|for)|blocked (?:on|by)|depends on|dependent on|stuck|on hold until"
    r"|at risk)\b",
    re.IGNORECASE,
)


def _waits_in_cells(block: Block, text_col: int, found: RiskList) -> None:
    """A wait or a block stated in another column of a task table (Update, Notes, Status),
    a risk label there ("Concern: …"), or a task whose status is Blocked / On hold."""
    status_col = column_roles(block.header).get("status")
    type_col = next(
        (i for i, c in enumerate(block.header) if re.search(r"\b(?:type|kind)\b", c, re.I)), None
    )
    for row in block.rows:
        said = False
        kind = row[type_col].strip().lower() if type_col is not None and type_col < len(row) else ""
        if kind in _THREAT_TYPES and 0 <= text_col < len(row) and row[text_col].strip():
            found.add(row[text_col])  # an issue tracker's "Risk" / "Impediment" item
            continue
        for index, value in enumerate(row):
            if index == text_col:
                continue
            label = _LABEL.match(value.strip())
            if label and not label.group("label").lower().startswith("issue"):
                found.add(label.group("body"))
                said = True
                continue
            if not _WAIT.search(value):
                # A threat written in an open task's notes ("Renewal due 1 Jan. If volunteers
                # are not covered, the work party cannot use the strimmer.").
                if (
                    index != type_col
                    and index != status_col
                    and len(value.split()) >= 4
                    and not _STUCK.match(value)
                    # (a status cell says closed; a minute's long cell saying "RESOLVED that"
                    # in a layout table closes nothing)
                    and not any(_CLOSED_ROW.search(v) and len(v.split()) <= 6 for v in row)
                    and any(
                        is_risk_sentence(part) and not _STATUS_NOTE.search(part)
                        for part in sentences(value)
                    )
                ):
                    found.add(value)
                    said = True
                continue
            for clause in re.split(r"\s*[;\n]\s*|(?<=\.)\s+", value):
                if _WAIT.search(clause) and not _NO_RISK.search(clause):
                    found.add(clause)
                    said = True
        status = row[status_col].strip() if status_col is not None and status_col < len(row) else ""
        if not said and 0 <= text_col < len(row) and _STUCK.match(status):
            found.add(row[text_col])


# A task's progress note, not a threat: "Not tested yet", "New - needed before the meeting".
_STATUS_NOTE = re.compile(r"\bnot (?:\w+ ){0,2}yet\b|\b(?:needed|required) before\b", re.I)
_CLOSED_ROW = re.compile(r"\b(?:done|closed|complete|completed|resolved|cancell?ed)\b", re.I)
_THREAT_TYPES = {"risk", "blocker", "impediment", "dependency", "concern", "threat"}
# A task's status that makes it a blocker: "Blocked", "On hold", "❌ blocked", "At risk".
_STUCK = re.compile(r"^\W*(?:blocked|on hold|at risk|stuck|impeded)\b", re.IGNORECASE)


_RAID_WORDS = RISK_TYPES | {"assumption", "assumptions", "action", "actions", "decision"}


def _raid_typed(block: Block, roles: dict[str, int]) -> bool:
    """A RAID log's type column (Risk / Assumption / Issue / Dependency per row)."""
    column = roles.get("category")
    if column is None or not re.search(r"type|kind|raid", block.header[column], re.I):
        return False
    values = [row[column].strip().lower() for row in block.rows if column < len(row)]
    return bool(values) and sum(v in _RAID_WORDS for v in values) * 2 >= len(values)


def _cell(row: list[str]) -> Callable[[int | None], str]:
    def get(index: int | None) -> str:
        if index is None or index >= len(row):
            return ""
        return row[index].strip()

    return get


def _register_severity(cell: Callable[[int | None], str], roles: dict[str, int]) -> str | None:
    """Severity column if present, else likelihood x impact on a 1-3 scale."""
    explicit = numeric_level(cell(roles.get("severity")))
    if explicit:
        return _LEVELS[explicit - 1]
    likelihood = numeric_level(cell(roles.get("likelihood")))
    impact = numeric_level(cell(roles.get("impact")))
    if likelihood and impact:
        score = likelihood * impact
        return "high" if score >= 6 else "medium" if score >= 3 else "low"
    if likelihood or impact:
        return _LEVELS[(likelihood or impact or 2) - 1]
    return None
