"""Lifecycle tests poll the REST API many times a second; keep httpx's per-request log out
of the captured output so a failure shows what matters."""

from __future__ import annotations

import logging

logging.getLogger("httpx").setLevel(logging.WARNING)
