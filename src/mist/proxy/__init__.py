"""The reverse proxy in front of web apps: Caddy, driven through its admin API."""

from mist.proxy.caddy import CaddyProxy, Route, validate_domain

__all__ = ["CaddyProxy", "Route", "validate_domain"]
