"""The tone coach's rules (hub/agent/tone.toml), tested with a table of drafts."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub.agent.tone import Known, coach, known_values, rules, team_rules
from hub.errors import ConfigError
from hub.settings import TonePhrase
from hub.timeline.model import Customer, Direction, Event, Identity

DRAFTS: list[tuple[str, list[str]]] = [
    # escalating phrases
    ("Please calm down, I'm looking at it.", ["calm_down"]),
    ("Just relax, it will arrive.", ["calm_down"]),
    ("Due to our policy we can't refund opened items.", ["policy"]),
    ("Our policy doesn't allow refunds after 30 days.", ["policy"]),
    ("I'm afraid that's our policy.", ["policy"]),
    ("I'll see if I can get you a discount.", ["conditional_promise"]),
    ("I'll try to get this sorted by Friday.", ["conditional_promise"]),
    ("Hopefully it ships tomorrow.", ["conditional_promise"]),
    ("The billing team messed up your invoice.", ["blame"]),
    ("That's the warehouse team's fault, not ours.", ["blame"]),
    ("Sorry, that's not my department.", ["blame"]),
    ("There's nothing I can do about the delay.", ["blame"]),
    ("Unfortunately your order is delayed.", ["unfortunately"]),
    ("I'm so sorry. We apologise for this. Sorry again!", ["stacked_apologies"] * 2),
    ("As I said, the parcel left on Monday.", ["repeat_yourself"]),
    (
        "Calm down. Unfortunately, as I said, it's gone.",
        ["calm_down", "unfortunately", "repeat_yourself"],
    ),
    ("Beruhigen Sie sich bitte, ich schaue nach.", ["calm_down_de"]),
    ("Leider ist Ihre Bestellung verspätet.", ["unfortunately_de"]),
    ("Laut unserer Richtlinien geht das nicht.", ["policy_de"]),
    ("Wie bereits gesagt, das Paket ist unterwegs.", ["repeat_yourself_de"]),
    # drafts that must not be flagged
    ("Ich kümmere mich sofort darum und melde mich bis 15 Uhr.", []),
    ("Unsere Datenschutzrichtlinie finden Sie unter example.com.", []),
    ("Let me know if I can help with anything else!", []),
    ("Hopefully this helps — the tracking link is below.", []),
    ("You can read our privacy policy at example.com/privacy.", []),
    ("Your insurance policy number is on the invoice.", []),
    ("I'm sorry about the wait — here's what I'm doing to fix it.", []),
    ("Let me take ownership of this: I've refunded the second charge.", []),
    ("I've relaxed the delivery window to 9-5 for you.", []),
    ("The courier collected it at 10:00 and it arrives tomorrow.", []),
    ("The team worked through the night to restore service.", []),
    ("Fortunately it's covered by the warranty.", []),
    ("", []),
]


@pytest.mark.parametrize(("draft", "expected"), DRAFTS)
def test_drafts_get_the_expected_flags(draft: str, expected: list[str]) -> None:
    assert [f.rule for f in coach(draft)] == expected


def test_a_flag_carries_the_phrase_reason_and_a_rewritten_draft() -> None:
    (flag,) = coach("Thanks for waiting. Please calm down, I'm on it. Bye")
    assert flag.phrase == "calm down"
    assert "calm down" in flag.reason.lower()
    assert flag.fixed == (
        "Thanks for waiting. I can see why this is frustrating, and I'm on it now. Bye"
    )
    apologies = coach("Sorry! So sorry.")
    assert [f.fixed for f in apologies] == [None]  # advice only, nothing to replace


def test_asked_again_names_what_they_gave_and_where() -> None:
    known = [
        Known("email address", "ana@example.com", "chat"),
        Known("order number", "A-10442", "sms"),
    ]
    flags = coach("Could you send me your order number and email address?", known=known)
    assert sorted(f.rule for f in flags) == [
        "asked_again:email address",
        "asked_again:order number",
    ]
    order = next(f for f in flags if f.rule == "asked_again:order number")
    assert "A-10442" in order.reason and "sms" in order.reason
    assert coach("Could you send me your phone number?", known=known) == []
    assert coach("Thanks, I have your order number.", known=known) == []


def _event(
    event_id: str, channel: str, direction: Direction, text: str, identity: Identity | None = None
) -> Event:
    return Event(
        id=event_id,
        customer_id="cus_1",
        conversation_id=None,
        channel=channel,
        direction=direction,
        text=text,
        identity=identity,
    )


def test_known_values_come_from_identities_and_their_own_messages() -> None:
    email = Identity("email", "ana@example.com")
    customer = Customer(id="cus_1", name="Ana", identities=[email])
    events = [
        _event("e1", "email", Direction.IN, "hello", identity=email),
        _event("e2", "sms", Direction.IN, "It's order #A-10442, charged twice"),
        _event("e3", "sms", Direction.OUT, "order number 999999 is ours"),
    ]
    assert known_values(customer, events) == [
        Known("email address", "ana@example.com", "email"),
        Known("order number", "A-10442", "sms"),
    ]


def test_team_phrases_apply_to_their_team_only() -> None:
    phrases = (
        TonePhrase(phrase="no worries", rewrite="Happy to help."),
        TonePhrase(phrase="ASAP", rewrite="by 3 pm today", team="billing"),
    )
    draft = "No worries, I'll fix it asap."
    assert [f.rule for f in coach(draft, extra=team_rules(phrases, "billing"))] == [
        "team:no worries",
        "team:ASAP",
    ]
    assert [f.rule for f in coach(draft, extra=team_rules(phrases, None))] == ["team:no worries"]
    assert coach("I'm not worried", extra=team_rules(phrases, None)) == []


def test_the_rules_file_is_checked(tmp_path: Path) -> None:
    shipped, asks = rules()
    assert {r.id for r in shipped} >= {"calm_down", "policy", "blame", "unfortunately"}
    assert asks
    bad = tmp_path / "tone.toml"
    bad.write_text('[[rule]]\nid = "x"\npatterns = ["(unclosed"]\nreason = "r"\nrewrite = "w"\n')
    with pytest.raises(ConfigError):
        rules(bad)
