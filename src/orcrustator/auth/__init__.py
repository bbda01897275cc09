"""Password hashing, signed tokens and login throttling."""
