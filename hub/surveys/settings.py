"""``[surveys]``: which channels survey the customer after a resolution, and when."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["SurveySettings"]


class SurveySettings(BaseModel):
    """Off by default: a hub that starts surveying customers by itself would surprise its
    owner. ``enabled = true`` gives CSAT on chat (in the widget, at once), email (after
    ``email_delay_minutes``), SMS (reply 1-5), WhatsApp and Messenger (buttons); CES where
    ``ces_channels`` asks; NPS at most every ``nps_days`` per customer, in the email survey."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = Field(False, description="survey customers after a conversation is resolved")
    channels: tuple[str, ...] = Field(
        ("chat", "email", "sms", "whatsapp", "messenger", "instagram"),
        description="channels a survey goes out on (the customer's channel in the conversation)",
    )
    email_delay_minutes: float = Field(
        10, ge=0, le=60, description="minutes after the resolution before the email survey goes"
    )
    ces_channels: tuple[str, ...] = Field(
        (),
        description=(
            "`email`, or `email:<account>` for one inbox: its email surveys also ask the "
            "effort question (CES, 1-7)"
        ),
    )
    nps_days: int = Field(
        90, ge=1, description="days between two NPS questions to one customer (in email surveys)"
    )
    answer_days: float = Field(
        7, gt=0, description="days a survey link or an SMS survey reply is accepted"
    )
    check_seconds: float = Field(
        60, gt=0, description="how often resolved conversations due an email survey are looked for"
    )
