"""GDPR (R14.2, R14.3, property 49): export everything about an email; erasure leaves none of the
person's data anywhere in the sidecar's tables, and every aggregate exactly as it was."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import text

from adapter.auth import Role
from adapter.services import Services
from core.clock import FixedClock
from tests.adapter.helpers import SERVICE, assert_error, create_profile, token
from tests.conftest import reset
from tests.factories import valid_body
from thotis_ext.privacy import anonymise_expired
from webhooks_in.privacy import forget_raw_events

ADMIN = {"Authorization": f"Bearer {token(Role.ADMIN, 'dpo')}"}
NOW = datetime.now(UTC)

names = st.from_regex(r"[A-Z][a-z]{5,9} [A-Z][a-z]{5,9}", fullmatch=True)
history = st.lists(
    st.tuples(st.integers(0, 2), st.sampled_from(["completed", "cancelled", "scheduled", "no_show"]),
              st.integers(1, 400), st.booleans()),
    min_size=1, max_size=8,
)  # fmt: skip


async def add_session(services: Services, mentor: str, student: tuple[str, str], status: str, hours: int,
                      minor: bool) -> str:  # fmt: skip
    uid = uuid.uuid4().hex[:22]
    start = NOW - timedelta(hours=hours) if status != "scheduled" else NOW + timedelta(hours=hours)
    async with services.database.engine.begin() as connection:
        await connection.execute(
            text(
                "INSERT INTO thotis.sessions (uid, mentor_id, start_at, end_at, status, cancelled_by, student_name,"
                " student_email, student_question, student_is_minor, parent_email, parental_consent, consent,"
                " cancellation_reason, cancelled_at)"
                " VALUES (:uid, :mentor, :start, :end, :status, :by, :name, :email, :question, :minor, :parent,"
                " :minor, true, :reason, :cancelled_at)"
            ),
            {
                "uid": uid, "mentor": mentor, "start": start, "end": start + timedelta(minutes=15), "status": status,
                "by": "student" if status == "cancelled" else None, "name": student[0], "email": student[1],
                "question": f"Question from {student[0]} ({student[1]})", "minor": minor,
                "parent": f"parent.of.{student[1]}" if minor else None,
                "reason": f"{student[0]} is ill" if status == "cancelled" else None,
                "cancelled_at": NOW if status == "cancelled" else None,
            },
        )  # fmt: skip
        await connection.execute(
            text(
                "INSERT INTO thotis.calcom_webhook_events (dedupe_key, trigger, booking_uid, body)"
                " VALUES (:key, 'BOOKING_CREATED', :uid, :body)"
            ),
            {"key": f"created:{uid}", "uid": uid, "body": raw_webhook(uid, *student)},
        )
    return uid


def raw_webhook(uid: str, name: str, email: str) -> bytes:
    """A stored Cal.com webhook body naming the attendee, as the inbox keeps it."""
    return json.dumps({"payload": {"uid": uid, "attendees": [{"name": name, "email": email}]}}).encode()


async def aggregates(api: httpx.AsyncClient) -> list[Any]:
    stats = (await api.get("/api/v2/platform/stats?granularity=month", headers=ADMIN)).json()["data"]
    mentors = (await api.get("/api/v2/platform/mentors", headers=ADMIN)).json()["data"]
    own = [(await api.get(f"/api/v2/students/{m}/stats", headers=SERVICE)).json()["data"] for m in ("m1", "m2")]
    return [stats["totals"], stats["trends"], mentors, own]


async def traces(services: Services, needles: list[str]) -> list[str]:
    """Every table column (text, JSON, bytes) of the sidecar where one of `needles` still appears."""
    found = []
    async with services.database.engine.connect() as connection:
        columns = (
            await connection.execute(
                text(
                    "SELECT table_name, column_name, data_type FROM information_schema.columns"
                    " WHERE table_schema = 'thotis' AND data_type IN ('text', 'character varying', 'jsonb', 'bytea')"
                )
            )
        ).all()
        by_table: dict[str, list[str]] = {}
        for table, column, kind in columns:
            value = f"convert_from({column}, 'UTF8')" if kind == "bytea" else f"{column}::text"
            by_table.setdefault(table, []).append(f"coalesce({value}, '')")
        for table, values in by_table.items():
            everything = "lower(concat_ws(' ', " + ", ".join(values) + "))"
            for needle in needles:
                hits = await connection.scalar(
                    text(f"SELECT count(*) FROM thotis.{table} WHERE strpos({everything}, lower(:needle)) > 0"),
                    {"needle": needle},
                )
                if hits:
                    found.append(f"{table} ∋ {needle}")
    return found


class TestPrivacy:
    @given(subject_name=names, others=st.lists(names, min_size=2, max_size=2, unique=True), sessions=history)
    async def test_property_49_erasure_leaves_no_personal_data_and_the_same_aggregates(
        self, api: httpx.AsyncClient, services: Services, subject_name: str, others: list[str],
        sessions: list[tuple[int, str, int, bool]],
    ) -> None:  # fmt: skip
        await reset(services)
        await create_profile(api, "m1", valid_body())
        await create_profile(api, "m2", valid_body(email="other.mentor@example.org", name="Other Mentor"))
        tag = uuid.uuid4().hex[:6]
        # Names end in distinct tags, so none is a substring of another.
        people = [(f"{subject_name} {tag}S", f"subject.{tag}@example.org")] + [
            (f"{name} {tag}{i}", f"person{i}.{tag}@example.org") for i, name in enumerate(others)
        ]
        subject_name = people[0][0]
        for index, (who, status, hours, minor) in enumerate(sessions):
            # Apart by index: a mentor never has two scheduled sessions starting together.
            uid = await add_session(services, ("m1", "m2")[index % 2], people[who], status, hours + 500 * index, minor)
            if status == "completed":
                feedback = {"rating": 1 + index % 5, "feedback": f"Thanks, signed {people[who][0]}"}
                rated = await api.post(f"/api/v2/bookings/{uid}/rating", json=feedback, headers=SERVICE)
                assert rated.status_code == 201, rated.text
        before = await aggregates(api)
        subject_email = people[0][1]
        erased = await api.delete(f"/api/v2/privacy/subjects/{subject_email}", headers=ADMIN)
        assert erased.status_code == 200, erased.text
        assert await traces(services, [subject_email, subject_name]) == []
        assert await aggregates(api) == before
        involved = {who for who, *_ in sessions}
        for who in involved - {0}:  # other people are untouched
            assert await traces(services, [people[who][1]]) != []

    async def test_export_lists_what_is_held_then_nothing_after_erasure(
        self, api: httpx.AsyncClient, services: Services
    ) -> None:
        await create_profile(api, "m1", valid_body())
        await add_session(services, "m1", ("Zoé Durand", "zoe@example.org"), "completed", 3, False)
        held = (await api.get("/api/v2/privacy/export?email=ZOE@example.org", headers=ADMIN)).json()["data"]
        assert [s["prospectiveStudent"]["name"] for s in held["sessions"]] == ["Zoé Durand"]
        assert held["mentorProfile"] is None
        mentor = (await api.get("/api/v2/privacy/export?email=camille@example.org", headers=ADMIN)).json()["data"]
        assert mentor["mentorProfile"]["userId"] == "m1" and "calcom" not in mentor["mentorProfile"]
        await api.delete("/api/v2/privacy/subjects/zoe@example.org", headers=ADMIN)
        after = (await api.get("/api/v2/privacy/export?email=zoe@example.org", headers=ADMIN)).json()["data"]
        assert after["sessions"] == [] and after["ratings"] == [] and after["emails"] == []

    async def test_an_erased_mentor_is_hidden_and_anonymous_but_still_counted(
        self, api: httpx.AsyncClient, services: Services
    ) -> None:
        await create_profile(api, "m1", valid_body())
        await add_session(services, "m1", ("Zoé Durand", "zoe@example.org"), "completed", 3, False)
        before = (await api.get("/api/v2/platform/stats", headers=ADMIN)).json()["data"]["totals"]
        await api.delete("/api/v2/privacy/subjects/camille@example.org", headers=ADMIN)
        assert (await api.get("/api/v2/students/m1", headers=SERVICE)).status_code == 404
        assert await traces(services, ["camille@example.org", "Camille Martin"]) == []
        after = (await api.get("/api/v2/platform/stats", headers=ADMIN)).json()["data"]["totals"]
        assert {k: v for k, v in after.items() if k != "activeMentors"} == {
            k: v for k, v in before.items() if k != "activeMentors"
        }

    async def test_only_admins_and_only_email_addresses(self, api: httpx.AsyncClient) -> None:
        assert (await api.get("/api/v2/privacy/export?email=a@b.c", headers=SERVICE)).status_code == 403
        assert_error(await api.get("/api/v2/privacy/export?email=nobody", headers=ADMIN), 400, "INVALID_EMAIL")
        assert_error(await api.delete("/api/v2/privacy/subjects/nobody", headers=ADMIN), 400, "INVALID_EMAIL")


class TestRetention:
    async def test_old_sessions_are_anonymised_recent_ones_kept(
        self, api: httpx.AsyncClient, services: Services
    ) -> None:
        await create_profile(api, "m1", valid_body())
        old = await add_session(services, "m1", ("Old Student", "old@example.org"), "completed", 24 * 800, False)
        await add_session(services, "m1", ("New Student", "new@example.org"), "completed", 24 * 30, False)
        async with services.database.session() as db:
            done = await anonymise_expired(db, FixedClock(NOW).now(), 24)
            await forget_raw_events(db, done)  # as the retention job does
        assert done == [old]
        async with services.database.session() as db:
            assert await anonymise_expired(db, NOW, 24) == []  # once
            assert await anonymise_expired(db, NOW, 0) == []  # 0 keeps everything
        remaining = await traces(services, ["old@example.org", "Old Student", "new@example.org"])
        assert all("new@example.org" in trace for trace in remaining) and remaining
