"""What every action gets, and helpers shared by the resource and DataHub actions."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from ksync.api.compat.tencent.errors import INVALID_PARAMETER_VALUE, TencentError, bad_value
from ksync.api.compat.tencent.params import Params
from ksync.settings import Settings
from ksync.store.repo import Store, as_utc

# The key under which this face keeps its own fields in an instance's or task's
# `external` column (other faces keep theirs under their own keys).
EXTERNAL_KEY = "tencent"


@dataclass(frozen=True)
class Context:
    store: Store
    settings: Settings


def tencent_time(value: datetime) -> str:
    """Tencent Cloud's time format, `YYYY-MM-DD HH:MM:SS` (ksync gives UTC)."""
    return as_utc(value).strftime("%Y-%m-%d %H:%M:%S")


def own_external(external: Mapping[str, Any] | None) -> dict[str, Any]:
    """This face's part of an `external` column."""
    value = (external or {}).get(EXTERNAL_KEY)
    return dict(value) if isinstance(value, Mapping) else {}


def with_own_external(
    external: Mapping[str, Any] | None, mine: dict[str, Any]
) -> dict[str, Any]:
    """`external` with this face's part replaced and the other faces' parts kept."""
    return {**(external or {}), EXTERNAL_KEY: mine}


def paging(p: Params, default_limit: int, max_limit: int) -> tuple[int, int]:
    """`Offset` and `Limit` as Tencent Cloud reads them: a larger Limit is cut to the max."""
    offset = p.integer("Offset")
    limit = p.integer("Limit")
    if offset is not None and offset < 0:
        raise bad_value(p.name("Offset"), "must be 0 or more")
    if limit is not None and limit < 0:
        raise bad_value(p.name("Limit"), "must be 0 or more")
    return offset or 0, min(max_limit, default_limit if limit is None else limit)


def tags(p: Params) -> list[dict[str, str]] | None:
    """`Tags`: a list of {TagKey, TagValue}, kept and shown back as given."""
    value = p.raw("Tags")
    if value is None:
        return None
    if not isinstance(value, list) or not all(
        isinstance(t, dict)
        and set(t) <= {"TagKey", "TagValue"}
        and isinstance(t.get("TagKey"), str)
        and isinstance(t.get("TagValue", ""), str)
        for t in value
    ):
        raise TencentError(
            INVALID_PARAMETER_VALUE,
            f'{p.name("Tags")} must be a list of {{"TagKey": string, "TagValue": string}}',
        )
    return [{"TagKey": t["TagKey"], "TagValue": t.get("TagValue", "")} for t in value]


def validation_error(exc: ValidationError, names: dict[str, str]) -> TencentError:
    """A spec validation error, with ksync's field names turned into the request's."""
    parts = []
    for err in exc.errors():
        loc = ".".join(str(x) for x in err.get("loc", ()))
        field = names.get(loc) or next(
            (v for k, v in names.items() if loc.startswith(k + ".")), loc or "the request"
        )
        msg = str(err.get("msg", "is invalid")).removeprefix("Value error, ")
        parts.append(f"{field}: {msg}")
    return TencentError(INVALID_PARAMETER_VALUE, "; ".join(parts))
