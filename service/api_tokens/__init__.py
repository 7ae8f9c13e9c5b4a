"""API tokens for scripts: the routes and commands (the logic is service.auth.service)."""
