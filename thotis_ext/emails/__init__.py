"""Thotis-branded emails: rendering (FR/EN templates, ICS), the outbox, and sending."""
