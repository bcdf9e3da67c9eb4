"""Outbox, Standard Webhooks signing and delivery of Thotis events (built in the webhooks issue)."""
