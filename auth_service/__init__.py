"""auth_service: users, argon2id passwords and JWT tokens."""
