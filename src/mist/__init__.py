"""Mist: a self-hosted platform-as-a-service."""
