"""Fixtures of the end-to-end tests: a server per module (see servers.py)."""

from __future__ import annotations

from .servers import module_server

__all__ = ["module_server"]
