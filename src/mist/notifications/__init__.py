"""Notifications: events told to webhooks, Slack, Discord and e-mail through a durable outbox."""
