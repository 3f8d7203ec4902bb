"""Sidebar groups by the day a conversation was last active, in the reader's own time zone.

"Today" is a calendar day where the user lives: the browser reports its IANA zone and the server
must not assume UTC (at 08:00 in Tokyo, 23:30 UTC yesterday is still today)."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from services.models import Conversation

PINNED, TODAY, YESTERDAY, WEEK, OLDER = "Pinned", "Today", "Yesterday", "Previous 7 days", "Older"


def zone(name: str | None) -> ZoneInfo:
    """The browser's zone; UTC for a missing or unknown name (never an error for a bad value)."""
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def heading(updated_at: datetime, now: datetime, tz: ZoneInfo) -> str:
    when = (updated_at if updated_at.tzinfo else updated_at.replace(tzinfo=UTC)).astimezone(tz).date()
    days = (now.astimezone(tz).date() - when).days
    if days <= 0:
        return TODAY
    if days == 1:
        return YESTERDAY
    return WEEK if days <= 7 else OLDER


def group(conversations: list[Conversation], now: datetime, tz: ZoneInfo) -> list[tuple[str, list[Conversation]]]:
    """Pinned first, then by day, each group keeping the given (newest first) order; empty groups left out."""
    groups: dict[str, list[Conversation]] = {h: [] for h in (PINNED, TODAY, YESTERDAY, WEEK, OLDER)}
    for conv in conversations:
        groups[PINNED if conv.pinned else heading(conv.updated_at, now, tz)].append(conv)
    return [(h, convs) for h, convs in groups.items() if convs]
