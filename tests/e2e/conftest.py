"""Fixtures of the end-to-end tests: a server for the folder (see servers.py)."""

from __future__ import annotations

from .servers import folder_server

__all__ = ["folder_server"]
