"""Hypothesis strategies and builders for valid (and invalid) profile bodies, and session rows."""

from __future__ import annotations

import io
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from hypothesis import strategies as st
from PIL import Image
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from thotis_ext.enums import AcademicField

FIELDS = [f.value for f in AcademicField]
UNIVERSITIES = ["Sorbonne Université", "Université de Lyon", "Sciences Po", "INSA Toulouse"]

# Printable text without surrogates or NUL (PostgreSQL text cannot hold NUL).
_chars = st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\x00")
names = st.text(_chars, min_size=1, max_size=60).map(str.strip).filter(bool)
bios = st.text(_chars, min_size=50, max_size=1000).map(str.strip).filter(lambda b: 50 <= len(b) <= 1000)
user_ids = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.:@-]{0,40}", fullmatch=True)


@st.composite
def profile_bodies(draw: st.DrawFn, **fixed: Any) -> dict[str, Any]:
    """A complete, valid POST /profile body (camelCase JSON)."""
    body: dict[str, Any] = {
        "name": draw(names),
        "email": draw(st.from_regex(r"[a-z]{1,10}\.[a-z]{1,10}@example\.(org|com)", fullmatch=True)),
        "locale": draw(st.sampled_from(["fr", "en"])),
        "university": draw(st.sampled_from(UNIVERSITIES)),
        "degree": draw(st.text(_chars, min_size=1, max_size=80).map(str.strip).filter(bool)),
        "field": draw(st.sampled_from(FIELDS)),
        "currentYear": draw(st.integers(1, 10)),
        "bio": draw(bios),
        "linkedInUrl": draw(
            st.one_of(st.none(), st.from_regex(r"https://(www\.)?linkedin\.com/in/[a-z0-9-]{1,30}", fullmatch=True))
        ),
    }
    body.update(fixed)
    return body


def valid_body(**fixed: Any) -> dict[str, Any]:
    body = {
        "name": "Camille Martin",
        "email": "camille@example.org",
        "locale": "fr",
        "university": "Sorbonne Université",
        "degree": "Licence de droit",
        "field": "LAW",
        "currentYear": 2,
        "bio": "Étudiante en deuxième année de droit, je réponds à vos questions sur la fac.",
        "linkedInUrl": "https://www.linkedin.com/in/camille-martin",
    }
    body.update(fixed)
    return body


def image_bytes(width: int = 640, height: int = 480, fmt: str = "JPEG", color: str = "orange") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buffer, format=fmt)
    return buffer.getvalue()


#: The prospective student of `insert_sessions` rows; exports and events must never show these.
STUDENT_NAME, STUDENT_EMAIL = "Léa Secret", "lea.secret@example.org"


async def insert_sessions(engine: AsyncEngine, mentor: str, sessions: Sequence[tuple[datetime, str]]) -> list[str]:
    """Sessions of `mentor` starting at the given instants, in the given statuses, written straight to
    the database (many rows without as many bookings); returns their uids."""
    uids = [uuid.uuid4().hex[:22] for _ in sessions]
    async with engine.begin() as connection:
        for uid, (start, status) in zip(uids, sessions, strict=True):
            await connection.execute(
                text(
                    "INSERT INTO thotis.sessions (uid, mentor_id, start_at, end_at, status, cancelled_by,"
                    " student_name, student_email, student_language)"
                    " VALUES (:uid, :mentor, :start, :end, :status, :cancelled_by, :name, :email, 'en')"
                ),
                {
                    "uid": uid,
                    "mentor": mentor,
                    "start": start,
                    "end": start + timedelta(minutes=15),
                    "status": status,
                    "cancelled_by": "student" if status == "cancelled" else None,
                    "name": STUDENT_NAME,
                    "email": STUDENT_EMAIL,
                },
            )
    return uids
