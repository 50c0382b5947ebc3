"""Lifecycle tests poll the REST API many times a second; keep httpx's per-request log out
of the captured output so a failure shows what matters. Tests that can share a server
take `folder_server` (see e2e/servers.py)."""

from __future__ import annotations

import logging

from e2e.servers import folder_server

__all__ = ["folder_server"]

logging.getLogger("httpx").setLevel(logging.WARNING)
