"""Fixtures of the end-to-end tests: a server for the folder (see servers.py), and the
offset sync tests' task maker (see offsets_support.py)."""

from __future__ import annotations

from .offsets_support import sync_task
from .servers import folder_server

__all__ = ["folder_server", "sync_task"]
