"""The Thotis domain: enums, pure rules, ORM models, repositories and services."""
