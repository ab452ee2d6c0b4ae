"""Exception types shared across sabr (kept tiny so every module can import them)."""
from __future__ import annotations

__all__ = ["ConfigError"]


class ConfigError(ValueError):
    """A configuration value is invalid; the message is one line naming field, value and range."""
