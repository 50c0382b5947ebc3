"""Fixtures of the monitoring tests: a server for the folder (see e2e/servers.py)."""

from __future__ import annotations

from e2e.servers import folder_server

__all__ = ["folder_server"]
