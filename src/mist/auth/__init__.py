"""Who is calling: users, password hashes, sessions and per-project permissions."""
