"""The Litestar app: routes, auth, error mapping, CLI wiring."""
