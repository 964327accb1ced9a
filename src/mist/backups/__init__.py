"""Database backups: dumped from the app's container, stored encrypted, proven restorable."""
