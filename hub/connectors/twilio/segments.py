"""How many SMS segments a text costs: GSM-7 or UCS-2, as carriers concatenate them.

A text that fits the GSM 03.38 alphabet is sent in 7-bit units: 160 per
single message, 153 per part of a concatenated one (the user-data header takes
the rest). Characters of the extension table (``^{}[]~|€\\`` and form feed)
take two units and are never split across parts. Any other character makes
the whole message UCS-2: 70 UTF-16 code units single, 67 per part, and a
surrogate pair (an emoji) is never split.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["SegmentInfo", "sms_segments"]

_GSM_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM_EXTENSION = frozenset("^{}\\[~]|€\f")

GSM_SINGLE, GSM_PART = 160, 153
UCS2_SINGLE, UCS2_PART = 70, 67


@dataclass(frozen=True, slots=True)
class SegmentInfo:
    """``segments`` parts in ``encoding``; ``units`` septets (GSM-7) or code units (UCS-2)."""

    encoding: Literal["GSM-7", "UCS-2"]
    segments: int
    units: int
    per_segment: int

    def as_meta(self) -> dict[str, object]:
        return {"encoding": self.encoding, "segments": self.segments, "units": self.units}


def sms_segments(text: str) -> SegmentInfo:
    """The segment count of ``text`` (0 for an empty text)."""
    if all(c in _GSM_BASIC or c in _GSM_EXTENSION for c in text):
        costs = [2 if c in _GSM_EXTENSION else 1 for c in text]
        return _pack("GSM-7", costs, GSM_SINGLE, GSM_PART)
    costs = [2 if ord(c) > 0xFFFF else 1 for c in text]
    return _pack("UCS-2", costs, UCS2_SINGLE, UCS2_PART)


def _pack(
    encoding: Literal["GSM-7", "UCS-2"], costs: list[int], single: int, part: int
) -> SegmentInfo:
    units = sum(costs)
    if units == 0:
        return SegmentInfo(encoding, 0, 0, single)
    if units <= single:
        return SegmentInfo(encoding, 1, units, single)
    segments, used = 1, 0
    for cost in costs:
        if used + cost > part:
            segments, used = segments + 1, 0
        used += cost
    return SegmentInfo(encoding, segments, units, part)
