"""``[reports]``: the weekly summary a lead can have emailed."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["ReportSettings"]


class ReportSettings(BaseModel):
    """Nobody gets the weekly summary until ``weekly_to`` names them (it needs the email
    connector to send)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    weekly_to: tuple[str, ...] = Field(
        (), description="email addresses that get the weekly service summary (needs `email`)"
    )
    weekly_day: Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"] = Field(
        "mon", description="the day the weekly summary goes out (covering the 7 days before)"
    )
    weekly_hour: int = Field(
        8, ge=0, le=23, description="the hour (UTC) from which the weekly summary goes out"
    )
