"""Kafka Connect REST face (`/connectors…`): ksync tasks as MirrorMaker 2-style connectors."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["kafka-connect"])
