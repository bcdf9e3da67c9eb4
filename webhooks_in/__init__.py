"""Verify and record Cal.com webhooks, then hand them to the domain (built in the webhooks issue)."""
