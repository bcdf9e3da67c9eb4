"""Thotis sessions: 15-minute bookings of a mentor's event type in Cal.com (R5, R12, R13)."""
