"""Tencent Cloud CKafka API face (version 2019-08-19): TC3-signed `POST /` and `/ckafka`."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["tencent-cloud"])
