"""Spreed WebRTC for Python: the core (no Tornado handlers live here)."""

__version__ = "1.0.0"
API_VERSION = 1.4
