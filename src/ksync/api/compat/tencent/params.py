"""Reading an action's JSON parameters the way Tencent Cloud checks them.

`Params` wraps one JSON object (the request body or a nested structure such as
`SourceResource.KafkaParam`) and hands out typed values by the SDK's field names. Each
value taken is checked off; `done()` then refuses whatever is left, so no parameter is
ever dropped silently:

* a field the SDK defines that ksync cannot honour -> `UnsupportedOperation`, saying why;
* a field the SDK does not define -> `UnknownParameter`, as Tencent Cloud answers.

A JSON `null` counts as absent (the SDK leaves unset fields out; hand-written clients
often send null).
"""

from __future__ import annotations

from typing import Any, Literal, overload

from ksync.api.compat.tencent.errors import (
    INVALID_PARAMETER,
    UNKNOWN_PARAMETER,
    TencentError,
    missing,
    unsupported,
)


class Params:
    def __init__(self, data: Any, path: str = "") -> None:
        if not isinstance(data, dict):
            raise TencentError(
                INVALID_PARAMETER, f"{path or 'the request body'} must be a JSON object"
            )
        self._data = {k: v for k, v in data.items() if v is not None}
        self._path = path
        self._taken: set[str] = set()

    def name(self, key: str) -> str:
        """The parameter's full name as Tencent writes it (`SourceResource.KafkaParam.Topic`)."""
        return f"{self._path}.{key}" if self._path else key

    def has(self, key: str) -> bool:
        return key in self._data

    def _get(self, key: str, required: bool) -> Any:
        self._taken.add(key)
        if key not in self._data:
            if required:
                raise missing(self.name(key))
            return None
        return self._data[key]

    def _type_error(self, key: str, kind: str) -> TencentError:
        return TencentError(INVALID_PARAMETER, f"{self.name(key)} must be {kind}")

    @overload
    def text(self, key: str, required: Literal[True]) -> str: ...
    @overload
    def text(self, key: str, required: bool = False) -> str | None: ...
    def text(self, key: str, required: bool = False) -> str | None:
        value = self._get(key, required)
        if value is not None and not isinstance(value, str):
            raise self._type_error(key, "a string")
        return value

    @overload
    def integer(self, key: str, required: Literal[True]) -> int: ...
    @overload
    def integer(self, key: str, required: bool = False) -> int | None: ...
    def integer(self, key: str, required: bool = False) -> int | None:
        value = self._get(key, required)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise self._type_error(key, "an integer")
        return value

    def flag(self, key: str, required: bool = False) -> bool | None:
        value = self._get(key, required)
        if value is not None and not isinstance(value, bool):
            raise self._type_error(key, "true or false")
        return value

    def texts(self, key: str, required: bool = False) -> list[str] | None:
        value = self._get(key, required)
        if value is not None and (
            not isinstance(value, list) or not all(isinstance(v, str) for v in value)
        ):
            raise self._type_error(key, "a list of strings")
        return value

    @overload
    def nested(self, key: str, required: Literal[True]) -> Params: ...
    @overload
    def nested(self, key: str, required: bool = False) -> Params | None: ...
    def nested(self, key: str, required: bool = False) -> Params | None:
        value = self._get(key, required)
        return None if value is None else Params(value, self.name(key))

    def raw(self, key: str) -> Any:
        """The JSON value as sent (kept and echoed back, e.g. Tags)."""
        return self._get(key, False)

    def done(self, unsupported_fields: dict[str, str] | None = None) -> None:
        """Refuse every parameter not taken. `unsupported_fields` maps the SDK's fields that
        ksync does not honour to the sentence that says why."""
        known = unsupported_fields or {}
        for key in self._data:
            if key in self._taken:
                continue
            if key in known:
                raise unsupported(f"{self.name(key)} is not supported: {known[key]}")
            raise TencentError(
                UNKNOWN_PARAMETER,
                f"{self.name(key)} is not a parameter of this action (version 2019-08-19)",
            )
