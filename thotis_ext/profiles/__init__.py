"""Mentor profiles: creation, updates, status, photos, discovery (R1, R4, R18)."""
