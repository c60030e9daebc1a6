"""Chat exports and transcripts read as speaker turns (workers.digest.chat).

Inline texts only; no database: ``pytest --noconftest tests/test_digest_chat.py``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from workers.analyse import analyse
from workers.digest.chat import read_chat

DATE = dt.date(2026, 6, 3)  # a Wednesday


def _digest(text: str) -> dict[str, Any]:
    return analyse(text, reference_date=DATE)


DISCORD = """\
[03/06/2026 10:00] wren
the allotment shed roof is leaking again. who's got the tarp order?

[03/06/2026 10:04] ollie_g
me. I'll order two tarps from the depot, should be there by Friday
{Reactions}
👍 (3)

[03/06/2026 10:20] Hazel | Treasurer
@bram can you collect the spare key from the council office tomorrow?

[03/06/2026 10:31] bram
yep on it 👍
{Attachments}
key_form.pdf

[03/06/2026 11:02] wren
thanks both
"""


def test_discord_turns_give_the_speaker_their_commitment_and_the_taker_the_request():
    actions = {a["owner"]: a for a in _digest(DISCORD)["action_items"]}
    assert set(actions) == {"ollie_g", "bram"}, actions
    assert "two tarps" in actions["ollie_g"]["text"]
    assert actions["ollie_g"]["due_date"] == "2026-06-05"
    # "yep on it" takes Hazel's request: the task is in the request's words.
    assert "spare key" in actions["bram"]["text"]
    assert actions["bram"]["due_date"] == "2026-06-04"


def test_reactions_attachments_and_role_suffixes_are_noise():
    chat = read_chat(DISCORD)
    assert chat is not None
    assert [m.speaker for m in chat.messages] == ["wren", "ollie_g", "Hazel", "bram", "wren"]
    said = " ".join(line for m in chat.messages for line in m.lines)
    assert "Reactions" not in said and "(3)" not in said and "key_form.pdf" not in said


WHATSAPP = """\
06/06/2026, 18:40 - Messages and calls are end-to-end encrypted. Tap to learn more.
06/06/2026, 18:41 - Tam created group "Choir committee"
06/06/2026, 18:42 - Tam: the hall booking for the summer concert still isn't confirmed
06/06/2026, 18:45 - Ines: I'll ring the caretaker on Monday about it
06/06/2026, 18:46 - Tam: <Media omitted>
07/06/2026, 09:10 - Ruth: can someone print the programmes?
07/06/2026, 09:30 - Ines: will do
"""


def test_whatsapp_relative_dates_resolve_against_each_message_day():
    actions = {a["text"]: a for a in _digest(WHATSAPP)["action_items"]}
    ring = next(a for text, a in actions.items() if "caretaker" in text)
    # Written on Saturday 6 June: "on Monday" is 8 June, whatever the document's own date.
    assert ring["owner"] == "Ines" and ring["due_date"] == "2026-06-08"
    programmes = next(a for text, a in actions.items() if "programmes" in text)
    assert programmes["owner"] == "Ines"
    chat = read_chat(WHATSAPP)
    assert chat is not None and {m.speaker for m in chat.messages} == {"Tam", "Ines", "Ruth"}


SLACK = """\
#garden-build | copied from Slack

Noor Haddad 9:00 AM
morning! the raised beds need soil before the volunteers come on Saturday

Felix Brand 9:05 AM
soil is mine, I'll get the delivery booked for Thursday

Noor Haddad 9:07 AM
great. can someone email the volunteers the new start time?

Pia Lund 9:10 AM
I can take that

Felix Brand 2:30 PM
delivery booked ✅ soil arrives Thursday morning

Noor Haddad 5:00 PM
EOD summary:
✅ soil delivery - Felix
⏳ volunteer start time email - Pia, tomorrow
⏳ tool shed inventory - me, Friday
"""


def test_an_end_of_day_summary_restates_the_turns_and_done_reports_close_them():
    digest = _digest(SLACK)
    open_ = {a["owner"]: a for a in digest["action_items"]}
    assert set(open_) == {"Pia Lund", "Noor Haddad"}, open_
    assert open_["Pia Lund"]["text"].startswith("volunteer start time email")
    assert open_["Pia Lund"]["due_date"] == "2026-06-04"
    assert open_["Noor Haddad"]["text"].startswith("tool shed inventory")
    assert open_["Noor Haddad"]["due_date"] == "2026-06-05"
    done = [a["text"] for a in digest["done_actions"]]
    assert any("soil" in text for text in done), done


def test_minutes_with_a_few_timed_lines_are_not_a_chat():
    text = """Project meeting, 3 June 2026
Start 10:00
Ana Lopez 10:05
- Ana to send the minutes by Friday
"""
    assert read_chat(text) is None
    assert [a["owner"] for a in _digest(text)["action_items"]] == ["Ana"]


DECIDING = """\
Lena Ortiz 9:00 AM
the caterer wants a deposit for the spring fair. do we pay it from the events budget or ask the PTA?

Omar Said 9:04 AM
we pay it from the events budget. the PTA fund is for the library.

Lena Ortiz 9:10 AM
{verdict}

Omar Said 9:12 AM
will do

Ruth Baines 9:30 AM
should we also run a raffle? nobody has a licence yet

Lena Ortiz 9:31 AM
parked. back to it at the May meeting

Lena Ortiz 4:00 PM
summary:
⏳ caterer told about the playground - Omar, today (blocked on the head signing the form)
❓ raffle licence - no owner. asking the council
""".format(
    verdict="ok decision (checked with the head on the phone): the fair moves to the playground,"
    " the hall stays closed. @omar can you tell the caterer?"
)


def test_a_conversation_settles_decisions_and_a_summary_names_its_gaps():
    digest = _digest(DECIDING)
    decisions = digest["decisions"]
    assert any(d.startswith("we pay it from the events budget") for d in decisions), decisions
    # The label's aside and the request after the verdict are not part of it.
    assert "the fair moves to the playground, the hall stays closed." in decisions
    assert any(d.startswith("parked.") for d in decisions), decisions
    assert not any("tell the caterer" in d for d in decisions)
    risks = [r["text"] for r in digest["risks"]]
    assert "raffle licence - no owner." in risks
    # A summary's open item restates a turn: no risk of its own ("waiting" aside or not).
    assert not any("caterer told" in r for r in risks), risks
    actions = digest["action_items"]
    assert [a["owner"] for a in actions] == ["Omar Said"], actions
    assert actions[0]["text"].startswith("caterer told about the playground")
    assert actions[0]["due_date"] == "2026-06-03"


MEMO = """\
Voice memo - "after the site visit"
Wednesday 3 June 2026, 18:10
Transcript (automatic)

[00:00] OK, notes from the site visit. Um, the scaffold inspection went fine.

[00:12] First, uh, I'll phone the glazier tomorrow about the cracked pane.

[00:25] Tell Marco to, to order the second skip before Friday.

[00:40] The drainage survey - Dana wants to - no, scratch that, Dana was asking who pays for it.
I need to read the contract clause. Put it on the list for Monday.

[01:02] Leave the paint samples for now.
"""


def test_a_dictated_memo_gives_the_voice_its_own_tasks_and_named_people_theirs():
    chat = read_chat(MEMO)
    assert chat is not None and chat.monologue
    actions = _digest(MEMO)["action_items"]
    by_text = {a["text"].split(",")[0].split(" ")[-1]: a for a in actions}
    texts = [a["text"] for a in actions]
    assert len(actions) == 3, texts
    glazier = next(a for a in actions if "glazier" in a["text"])
    assert glazier["owners"] == [] and glazier["due_date"] == "2026-06-04"
    skip = next(a for a in actions if "skip" in a["text"])
    assert skip["owners"] == ["Marco"] and skip["due_date"] == "2026-06-05"
    assert skip["text"].startswith("order the second skip")
    clause = next(a for a in actions if "contract clause" in a["text"])
    assert clause["owners"] == [] and clause["due_date"] == "2026-06-08"
    # What "scratch that" cancels is no task of Dana's.
    assert not any("Dana" in owner for a in actions for owner in a["owners"]), by_text


PROBLEMS = """\
[03/06/2026 09:00] pia
the venue sent the hire terms back. three problems:
1) no amplified music after 9pm, which kills the evening set
2) the deposit is not refundable within 30 days of the event
3) we must use their bar staff

[03/06/2026 09:10] tomas
ugh. I'll call them this afternoon

[03/06/2026 09:12] pia
ty

[03/06/2026 09:20] tomas
and I'll ask about the late licence too
"""


def test_items_a_message_lists_as_its_problems_are_risks():
    risks = [r["text"] for r in _digest(PROBLEMS)["risks"]]
    for item in (
        "no amplified music after 9pm, which kills the evening set",
        "the deposit is not refundable within 30 days of the event",
        "we must use their bar staff",
    ):
        assert item in risks, risks


def test_owner_led_lines_of_running_notes_are_that_owners_tasks():
    text = """PUMP STATION WEEKLY - 3 June 2026

2) VALVES
Kofi said the gate valve seals are worn.
  -> Owner - Kofi: order two seal kits from the supplier until Friday.
  -> Responsible - Mei / Abel: drain the wet well before the fitter comes.
"""
    actions = {a["text"].split(" ")[0]: a for a in _digest(text)["action_items"]}
    assert set(actions) == {"order", "drain"}, actions
    assert actions["order"]["owners"] == ["Kofi"]
    assert actions["order"]["due_date"] == "2026-06-05"
    assert "Mei" in actions["drain"]["owner"] and "Abel" in actions["drain"]["owner"]


def test_a_meeting_assistants_boxed_items_name_their_assignee_last():
    text = """Meeting summary: depot planning
Wed, Jun 3, 2026

Action Items
☐ Send the forklift quotes to the group by Friday - @Ines Duarte
☐ Check the loading bay lights - Speaker 2
☐ Follow up with payroll on the night shift rate
☑ Book the fire drill - @Ola Berg
"""
    digest = _digest(text)
    actions = {a["text"]: a for a in digest["action_items"]}
    assert actions["Send the forklift quotes to the group by Friday"]["owners"] == ["Ines Duarte"]
    assert actions["Send the forklift quotes to the group by Friday"]["due_date"] == "2026-06-05"
    assert actions["Check the loading bay lights"]["owners"] == ["Speaker 2"]
    assert actions["Follow up with payroll on the night shift rate"]["owners"] == []
    assert [a["text"] for a in digest["done_actions"]] == ["Book the fire drill"]


def test_a_few_quoted_messages_do_not_make_a_long_document_a_chat():
    filler = "\n".join(f"- item {n} of the inventory was counted and shelved." for n in range(80))
    quoted = "\n".join(f"Ana Lopez 9:0{n} AM\nquoted message {n}" for n in range(4))
    assert read_chat(f"Stock report\n\n{filler}\n\n{quoted}\n") is None
    assert read_chat(quoted) is not None
