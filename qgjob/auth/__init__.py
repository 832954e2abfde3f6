"""Who may do what: API tokens, the caller's identity and role, rate limits (pure code)."""
