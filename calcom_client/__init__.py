"""Typed async client for Cal.com API v2, and the Cal.com simulator (built in the booking issue)."""
