"""core.jobs: a job asked for inside a transaction is sent once, after the commit, never after a rollback."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from adapter.services import Services
from core import jobs
from core.database import commit, rollback


class Recorder:
    def __init__(self, *, fail: bool = False) -> None:
        self.sent: list[tuple[str, dict[str, Any]]] = []
        self.fail = fail

    async def send(self, name: str, kwargs: Mapping[str, Any]) -> None:
        if self.fail:
            raise ConnectionError("broker down")
        self.sent.append((name, dict(kwargs)))


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    sender = Recorder()
    jobs.install_sender(sender)
    yield sender
    jobs.install_sender(None)


class TestDeferredJobs:
    async def test_sent_after_commit_once_per_distinct_request(self, services: Services, recorder: Recorder) -> None:
        async with services.database.sessionmaker() as session:
            jobs.defer_batched(session, "send_email", "email_ids", 1)
            jobs.defer_batched(session, "remind", "session_ids", "s1")
            assert recorder.sent == []  # nothing before the commit
            await commit(session)
        await jobs.drain()
        assert recorder.sent == [("send_email", {"email_ids": [1]}), ("remind", {"session_ids": ["s1"]})]

    async def test_nothing_sent_after_a_rollback(self, services: Services, recorder: Recorder) -> None:
        async with services.database.sessionmaker() as session:
            jobs.defer_batched(session, "send_email", "email_ids", 1)
            await rollback(session)
            await commit(session)
        await jobs.drain()
        assert recorder.sent == []

    async def test_a_broker_failure_never_fails_the_committed_work(self, services: Services) -> None:
        jobs.install_sender(Recorder(fail=True))
        try:
            async with services.database.sessionmaker() as session:
                jobs.defer_batched(session, "send_email", "email_ids", 1)
                await commit(session)  # does not raise: the sweep sends the email later
            await jobs.drain()  # nor does the send itself, in the background
        finally:
            jobs.install_sender(None)

    async def test_batched_items_go_as_one_job_per_commit(self, services: Services, recorder: Recorder) -> None:
        async with services.database.sessionmaker() as session:
            for email_id in (1, 2, 2):
                jobs.defer_batched(session, "send_email", "email_ids", email_id)
            await commit(session)
            jobs.defer_batched(session, "send_email", "email_ids", 3)
            await rollback(session)  # 3 never happened
            jobs.defer_batched(session, "send_email", "email_ids", 4)
            await commit(session)
        await jobs.drain()
        assert recorder.sent == [("send_email", {"email_ids": [1, 2]}), ("send_email", {"email_ids": [4]})]

    async def test_without_a_sender_nothing_is_queued(self, services: Services) -> None:
        async with services.database.sessionmaker() as session:
            jobs.defer_batched(session, "send_email", "email_ids", 1)
            assert not session.info.get("thotis.after_commit")
