"""taskiq broker wiring and thin idempotent tasks (built in the jobs issue)."""
