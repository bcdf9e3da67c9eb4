"""Shared kernel: settings, database base, errors, cache, Redis, rate limiting, clock; imports no project package."""
