"""Business time: weekends, holidays, time zones and daylight saving."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from pydantic import ValidationError

from hub.operations.calendar import ALWAYS, BusinessCalendar
from hub.operations.settings import CalendarSettings, OperationsSettings
from hub.settings import Settings

FRI_1640 = datetime(2026, 12, 4, 16, 40, tzinfo=UTC)


def calendar(**kw: object) -> BusinessCalendar:
    return BusinessCalendar.from_settings(CalendarSettings.model_validate(kw))


def test_a_weekend_does_not_count() -> None:
    cal = calendar()
    monday_0910 = datetime(2026, 12, 7, 9, 10, tzinfo=UTC)
    assert cal.seconds_between(FRI_1640, monday_0910) == 30 * 60
    assert cal.add(FRI_1640, 60 * 60) == datetime(2026, 12, 7, 9, 40, tzinfo=UTC)


def test_holidays_are_days_off() -> None:
    cal = calendar(holidays=["2026-12-07"])
    assert cal.add(FRI_1640, 60 * 60) == datetime(2026, 12, 8, 9, 40, tzinfo=UTC)
    assert date(2026, 12, 7) in cal.holidays


def test_hours_are_local_and_follow_daylight_saving() -> None:
    cal = calendar(timezone="Europe/Paris", hours={"mon": ["09:00-17:00"], "sun": ["09:00-17:00"]})
    # Paris leaves summer time early on Sunday 25 Oct 2026: that day 09:00 local is 08:00 UTC.
    before = datetime(2026, 10, 25, 8, 0, tzinfo=UTC)
    assert cal.add(before, 60) == datetime(2026, 10, 25, 8, 1, tzinfo=UTC)
    monday = datetime(2026, 10, 26, 8, 0, tzinfo=UTC)  # 09:00 in Paris (UTC+1)
    assert cal.seconds_between(monday - timedelta(hours=1), monday + timedelta(hours=1)) == 3600


def test_always_counts_every_second() -> None:
    assert ALWAYS.seconds_between(FRI_1640, FRI_1640 + timedelta(days=2)) == 2 * 86400
    assert calendar(hours={}).always


@pytest.mark.parametrize(
    ("config", "where"),
    [
        ({"calendars": {"business": {"timezone": "Mars/Base"}}}, "calendars.business.timezone"),
        ({"calendars": {"business": {"hours": {"mon": ["17:00-09:00"]}}}}, "hours"),
        ({"calendars": {"business": {"hours": {"funday": ["09:00-10:00"]}}}}, "hours"),
        ({"rules": [{"name": "x", "pattern": "("}]}, "rules.0.pattern"),
        ({"rules": [{"name": "x"}]}, "rules.0"),
        ({"sla": {"policies": [{"priority": "P9"}]}}, "sla.policies.0.priority"),
        ({"time_rules": {"warn_hours": 80}}, "time_rules"),
        (
            {
                "sla": {
                    "policies": [
                        {
                            "priority": "P1",
                            "first_response_minutes": 5,
                            "resolution_minutes": 60,
                            "calendar": "nope",
                        }
                    ]
                }
            },
            "calendar",
        ),
    ],
)
def test_bad_configuration_names_the_key(config: dict[str, object], where: str) -> None:
    with pytest.raises(ValidationError) as info:
        Settings(operations=config)  # type: ignore[arg-type]
    assert where in str(info.value)


def test_operations_are_off_by_default() -> None:
    assert OperationsSettings().enabled is False
    assert Settings().operations.enabled is False


def test_the_readme_example_is_valid_configuration() -> None:
    import re
    import tomllib
    from pathlib import Path

    readme = (Path(__file__).parents[2] / "README.md").read_text()
    section = readme.split("## Support operations", 1)[1]
    block = re.search(r"```toml\n(.*?)```", section, re.S)
    assert block is not None
    settings = OperationsSettings.model_validate(tomllib.loads(block.group(1))["operations"])
    assert settings.enabled and settings.rules[0].name == "enterprise"
    cal = BusinessCalendar.from_settings(settings.calendars["business"])
    # Monday 14 Dec 2026, 12:00 Paris (11:00 UTC): 30 minutes before lunch, then 13:30.
    assert cal.add(datetime(2026, 12, 14, 11, 0, tzinfo=UTC), 3600) == datetime(
        2026, 12, 14, 13, 0, tzinfo=UTC
    )
