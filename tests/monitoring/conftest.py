"""Fixtures of the monitoring tests: a server per module (see e2e/servers.py)."""

from __future__ import annotations

from e2e.servers import module_server

__all__ = ["module_server"]
