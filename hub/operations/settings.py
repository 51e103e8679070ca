"""``[operations]`` in ``omnihub.toml``: triage rules, SLA policies, calendars, teams,
acknowledgements and time rules. Off unless ``enabled = true``.

Every number defaults to ``shared/SUPPORT.md``'s starting point; validation at
start names the key at fault (``operations.sla.policies.0.priority``…).
"""

from __future__ import annotations

import re
import zoneinfo
from datetime import date, time
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = [
    "PRIORITIES",
    "AckSettings",
    "CalendarSettings",
    "EscalationRule",
    "OperationsSettings",
    "SlaPolicy",
    "StaffMember",
    "TeamSettings",
    "TimeRules",
    "TriageRule",
]

PriorityName = Literal["P1", "P2", "P3", "P4"]
TierName = Literal["T1", "T2", "T3"]
PRIORITIES: tuple[PriorityName, ...] = ("P1", "P2", "P3", "P4")
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_SPAN = re.compile(r"^(\d{2}):(\d{2})-(\d{2}):(\d{2})$")

_WEEKDAYS: dict[str, tuple[str, ...]] = {d: ("09:00-17:00",) for d in DAYS[:5]}
_COMPLIANCE: dict[PriorityName, float] = {"P1": 0.95, "P2": 0.95, "P3": 0.90, "P4": 0.90}

_FROZEN = ConfigDict(extra="forbid", frozen=True)


class TriageRule(BaseModel):
    """When a new or reopened conversation's opening message matches, set these.

    ``keywords`` match as whole phrases in the customer's words (case and
    apostrophes folded); ``pattern`` is a regular expression; ``channels`` and
    ``attributes`` (customer attributes such as ``plan = "enterprise"``) narrow it;
    ``returning`` matches customers with earlier conversations (true) or none (false).
    ``priority`` sets it; ``min_priority`` raises it to at least that.
    """

    model_config = _FROZEN

    name: str = Field(min_length=1, max_length=64)
    keywords: tuple[str, ...] = ()
    pattern: str | None = None
    channels: tuple[str, ...] = ()
    attributes: dict[str, str] = Field(default_factory=dict)
    returning: bool | None = None
    priority: PriorityName | None = None
    min_priority: PriorityName | None = None
    tier: TierName | None = None
    team: str | None = Field(None, min_length=1, max_length=64)
    tags: tuple[str, ...] = ()

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"not a regular expression: {exc}") from None
        return value

    @model_validator(mode="after")
    def _has_condition(self) -> TriageRule:
        if not (self.keywords or self.pattern or self.channels or self.attributes):
            raise ValueError("a rule needs keywords, a pattern, channels or attributes")
        return self


DEFAULT_RULES = (
    TriageRule(
        name="charged-twice",
        keywords=("charged twice", "double charged", "charged me twice", "double charge"),
        priority="P2",
        team="billing",
        tier="T1",
        tags=("billing",),
    ),
    TriageRule(
        name="access",
        keywords=(
            "can't log in",
            "cannot log in",
            "can not log in",
            "unable to log in",
            "can't login",
            "cannot login",
            "locked out",
        ),
        team="access",
        tier="T1",
        tags=("access",),
    ),
    TriageRule(
        name="data-missing",
        keywords=("data missing", "missing data", "data is missing", "data is gone", "lost data"),
        min_priority="P2",
        tier="T2",
        tags=("data",),
    ),
)


class EscalationRule(BaseModel):
    """Customer words that go to the team lead at once, with the context card."""

    model_config = _FROZEN

    name: str = Field(min_length=1, max_length=64)
    keywords: tuple[str, ...] = Field(min_length=1)


DEFAULT_ESCALATIONS = (
    EscalationRule(
        name="manager",
        keywords=(
            "your manager",
            "a manager",
            "the manager",
            "speak to a supervisor",
            "your supervisor",
        ),
    ),
    EscalationRule(
        name="legal",
        keywords=(
            "lawyer",
            "attorney",
            "legal action",
            "sue you",
            "take you to court",
            "solicitor",
        ),
    ),
    EscalationRule(
        name="safety",
        keywords=("unsafe", "injured", "injury", "caught fire", "on fire", "dangerous", "burned"),
    ),
)


class CalendarSettings(BaseModel):
    """Business hours: ``hours`` per weekday (``mon``…``sun``) as ``"HH:MM-HH:MM"`` spans in
    ``timezone``; ``holidays`` are whole days off. No hours at all means around the clock."""

    model_config = _FROZEN

    timezone: str = "UTC"
    hours: dict[str, tuple[str, ...]] = Field(default_factory=lambda: dict(_WEEKDAYS))
    holidays: tuple[date, ...] = ()

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value

    @field_validator("hours")
    @classmethod
    def _spans(cls, value: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
        for day, spans in value.items():
            if day not in DAYS:
                raise ValueError(f"{day!r} is not one of {', '.join(DAYS)}")
            for span in spans:
                if parse_span(span) is None:
                    raise ValueError(f"{day}: {span!r} is not HH:MM-HH:MM with start < end")
        return value


def parse_span(span: str) -> tuple[time, time] | None:
    """``"09:00-17:00"`` → its two times; ``None`` if malformed (``24:00`` ends a day)."""
    m = _SPAN.match(span.strip())
    if not m:
        return None
    h1, m1, h2, m2 = (int(g) for g in m.groups())
    if h1 > 23 or m1 > 59 or m2 > 59 or h2 > 24 or (h2 == 24 and m2):
        return None
    start = time(h1, m1)
    end = time.max if h2 == 24 else time(h2, m2)
    return (start, end) if start < end else None


class SlaPolicy(BaseModel):
    """Targets for conversations on ``channel`` (``*``: any) at ``priority`` for customers
    whose tier attribute is ``customer_tier`` (``*``: any). Minutes of business time on
    ``calendar``; ``update_minutes`` 0 means no update-frequency target."""

    model_config = _FROZEN

    priority: PriorityName
    channel: str = "*"
    customer_tier: str = "*"
    first_response_minutes: float = Field(gt=0)
    update_minutes: float = Field(0, ge=0)
    resolution_minutes: float = Field(gt=0)
    calendar: str = "business"


DEFAULT_POLICIES = (
    SlaPolicy(
        priority="P1",
        first_response_minutes=15,
        update_minutes=30,
        resolution_minutes=240,
        calendar="always",
    ),
    SlaPolicy(priority="P2", first_response_minutes=60, update_minutes=120, resolution_minutes=480),
    SlaPolicy(priority="P3", first_response_minutes=240, resolution_minutes=1440),
    SlaPolicy(priority="P4", first_response_minutes=480, resolution_minutes=2880),
)


class SlaSettings(BaseModel):
    """SLA policies (first match wins, the defaults last) and the warning thresholds."""

    model_config = _FROZEN

    policies: tuple[SlaPolicy, ...] = ()
    assign_at: float = Field(0.5, gt=0, lt=1)
    escalate_at: float = Field(0.8, gt=0, lt=1)
    customer_tier_attribute: str = "plan"
    compliance_targets: dict[PriorityName, float] = Field(default_factory=lambda: dict(_COMPLIANCE))

    @model_validator(mode="after")
    def _order(self) -> SlaSettings:
        if self.assign_at >= self.escalate_at:
            raise ValueError("assign_at must come before escalate_at")
        return self

    @property
    def all_policies(self) -> tuple[SlaPolicy, ...]:
        return self.policies + DEFAULT_POLICIES


class StaffMember(BaseModel):
    """What an agent (by sign-in email) can take: skills, languages, concurrent chats."""

    model_config = _FROZEN

    skills: tuple[str, ...] = ()
    languages: tuple[str, ...] = ("en",)
    capacity: int = Field(3, ge=1, le=50)


class TeamSettings(BaseModel):
    """A team (queue): its ``lead`` (an agent email) and the skill its work needs."""

    model_config = _FROZEN

    lead: str | None = None
    assign_on_arrival: bool = True
    skill: str | None = None


class AckSettings(BaseModel):
    """Immediate acknowledgement of new and reopened conversations on ``channels``.
    ``text`` may use ``{estimate}``; it never repeats what the customer wrote."""

    model_config = _FROZEN

    enabled: bool = True
    channels: tuple[str, ...] = ("email",)
    text: str = Field(
        "Thanks for getting in touch: your message has reached our support team. "
        "We expect to reply {estimate}.",
        min_length=1,
        max_length=500,
    )
    sample: int = Field(20, ge=1, le=500)


class TimeRules(BaseModel):
    """Close after ``close_hours`` without a customer reply, warning at ``warn_hours``;
    remind the assignee of a promise still open after ``promise_hours``."""

    model_config = _FROZEN

    warn_hours: float = Field(48, gt=0)
    close_hours: float = Field(72, gt=0)
    warn_text: str = Field(
        "We haven't heard back from you, so we'll close this conversation soon. "
        "Just reply if you still need help.",
        min_length=1,
        max_length=500,
    )
    promise_hours: float = Field(24, gt=0)
    max_transfers: int = Field(2, ge=0)

    @model_validator(mode="after")
    def _order(self) -> TimeRules:
        if self.warn_hours >= self.close_hours:
            raise ValueError("warn_hours must come before close_hours")
        return self


class OperationsSettings(BaseModel):
    """The support-operations layer (``hub.operations``); off by default.

    ``teams`` name each queue's lead and skill, ``staff`` each agent's (by email)
    skills, languages and capacity; ``lead`` is who gets escalations of a
    conversation without a team. ``assign_on_arrival`` gives a new or reopened
    conversation to an available agent at once (else the 50 % rule does when
    one is free). Sweeps run every ``check_seconds``.
    """

    model_config = _FROZEN

    enabled: bool = False
    check_seconds: float = Field(60.0, gt=0)
    rules: tuple[TriageRule, ...] = DEFAULT_RULES
    escalations: tuple[EscalationRule, ...] = DEFAULT_ESCALATIONS
    sla: SlaSettings = SlaSettings()
    calendars: dict[str, CalendarSettings] = Field(
        default_factory=lambda: {"business": CalendarSettings()}
    )
    teams: dict[str, TeamSettings] = Field(default_factory=dict)
    staff: dict[str, StaffMember] = Field(default_factory=dict)
    lead: str | None = None
    assign_on_arrival: bool = True
    ack: AckSettings = AckSettings()
    time_rules: TimeRules = TimeRules()
    accuracy_target: float = Field(0.85, gt=0, le=1)

    @model_validator(mode="after")
    def _references(self) -> OperationsSettings:
        names = set(self.calendars) | {"always"}
        for i, policy in enumerate(self.sla.policies):
            if policy.calendar not in names:
                raise ValueError(f"sla.policies.{i}.calendar: no calendar {policy.calendar!r}")
        if "business" not in self.calendars:
            raise ValueError("calendars.business: the default calendar is needed")
        seen: set[str] = set()
        for i, rule in enumerate(self.rules):
            if rule.name in seen:
                raise ValueError(f"rules.{i}.name: {rule.name!r} is used twice")
            seen.add(rule.name)
        return self
