"""Reading Cal.com webhook bodies (calcom-contract.md §8): shapes, dedupe keys, booking facts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.webhooks_in import payloads
from tests.webhooks_in.payloads import Booking
from thotis_ext.sessions.lifecycle import BookingChange
from webhooks_in.parsing import MalformedWebhook, booking_facts, parse_webhook

SENT = datetime(2026, 12, 7, 8, 0, 1, 123000, tzinfo=UTC)
B = Booking("uidAAAAAAAAAAAAAAAAAAA", 41, 7, datetime(2026, 12, 9, 9, 0, tzinfo=UTC))
OLD = Booking("uidOLDOLDOLDOLDOLDOLD0", 40, 7, datetime(2026, 12, 8, 9, 0, tzinfo=UTC))


class TestParsing:
    def test_created_gives_every_fact_of_the_booking(self) -> None:
        event = parse_webhook(payloads.created(B, SENT, metadata={"thotisSession": "true"}))
        facts = booking_facts(event)
        assert event.change is BookingChange.CREATED and event.sent_at == SENT and facts is not None
        assert (facts.uid, facts.booking_id, facts.event_type_id) == (B.uid, 41, 7)
        assert (facts.start, facts.end) == (B.start, B.end)
        assert (facts.attendee_email, facts.attendee_language, facts.organizer_email) == (
            "lea@example.org",
            "fr",
            "mentor@example.org",
        )
        assert facts.meet_url and facts.meet_url.startswith("https://meet.google.com/")
        assert facts.metadata["thotisSession"] == "true"

    def test_a_second_send_of_one_event_has_the_same_dedupe_key(self) -> None:
        first = parse_webhook(payloads.created(B, SENT))
        again = parse_webhook(payloads.created(B, SENT + timedelta(seconds=3)))
        other = parse_webhook(payloads.cancelled(B, SENT, by="x@example.org"))
        assert first.dedupe_key == again.dedupe_key != other.dedupe_key

    def test_no_show_marks_differ_by_content(self) -> None:
        marked, unmarked = (parse_webhook(payloads.no_show(B, SENT, attendee=flag)) for flag in (True, False))
        assert marked.dedupe_key != unmarked.dedupe_key and marked.booking_uid == B.uid
        facts = booking_facts(marked)
        assert facts is not None and facts.attendee_no_show is True

    def test_cancelled_times_with_an_offset_and_who_cancelled(self) -> None:
        facts = booking_facts(parse_webhook(payloads.cancelled(B, SENT, by="mentor@example.org", reason="Malade")))
        assert facts is not None and facts.start == B.start and facts.meet_url is None
        assert (facts.changed_by_email, facts.reason) == ("mentor@example.org", "Malade")

    def test_rescheduled_names_the_old_booking(self) -> None:
        facts = booking_facts(parse_webhook(payloads.rescheduled(B, OLD, SENT)))
        assert facts is not None and facts.uid == B.uid
        assert (facts.previous_uid, facts.previous_start, facts.previous_end) == (OLD.uid, OLD.start, OLD.end)

    def test_meeting_ended_flat_and_enveloped_say_the_same(self) -> None:
        flat, enveloped = (
            parse_webhook(payloads.meeting_ended(B)),
            parse_webhook(payloads.meeting_ended(B, flat=False, sent=SENT)),
        )
        assert flat.sent_at is None and enveloped.sent_at == SENT
        assert flat.change is enveloped.change is BookingChange.ENDED
        assert booking_facts(flat) == booking_facts(enveloped)

    def test_ping_and_unknown_triggers_are_read_not_applied(self) -> None:
        for body in (b'{"triggerEvent":"PING","createdAt":"2026-12-07T08:00:00.000Z","payload":{}}', b'{"x":1}'):
            event = parse_webhook(body)
            assert event.change is None and booking_facts(event) is None

    @pytest.mark.parametrize("body", [b"", b"nope", b"[]", b'"text"', b"\xff\xfe"])
    def test_a_body_that_is_not_a_json_object_is_malformed(self, body: bytes) -> None:
        with pytest.raises(MalformedWebhook):
            parse_webhook(body)
