"""Thin HTTP controllers: parse, call a service, wrap the result in the envelope."""
