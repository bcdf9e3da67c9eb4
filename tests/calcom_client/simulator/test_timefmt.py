"""The simulator's date strings: the fast formatters against their definitions (JavaScript's
`toISOString()` and Luxon's `toISO()`, written out field by field)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from calcom_client.simulator.timefmt import js_iso, luxon_iso

ZONES = ["UTC", "utc", "GMT", "Europe/Paris", "Asia/Kolkata", "America/St_Johns", "Pacific/Chatham", "Mars/Olympus"]


def by_fields(local: datetime, suffix: str) -> str:
    return (
        f"{local.year:04d}-{local.month:02d}-{local.day:02d}T{local.hour:02d}:{local.minute:02d}:"
        f"{local.second:02d}.{local.microsecond // 1000:03d}{suffix}"
    )


def offset_text(local: datetime) -> str:
    minutes = int((local.utcoffset() or timedelta(0)).total_seconds() // 60)
    return f"{'+' if minutes >= 0 else '-'}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


moments = st.datetimes(
    min_value=datetime(1800, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(timezone(timedelta(hours=3)))
)


@settings(max_examples=300)
@given(moment=moments)
def test_js_iso_is_to_iso_string(moment: datetime) -> None:
    assert js_iso(moment) == by_fields(moment.astimezone(UTC), "Z")


@settings(max_examples=300)
@given(moment=moments, zone_name=st.sampled_from(ZONES))
def test_luxon_iso_is_to_iso_in_the_zone(moment: datetime, zone_name: str) -> None:
    if zone_name.lower() in {"utc", "gmt"}:
        expected = by_fields(moment.astimezone(UTC), "Z")
    else:
        zone = ZoneInfo(zone_name) if zone_name != "Mars/Olympus" else UTC  # unknown: as UTC, with an offset
        local = moment.astimezone(zone)
        expected = by_fields(local, offset_text(local))
    assert luxon_iso(moment, zone_name) == expected
