"""Errors of ksync's operations, typed so every face answers them alike.

Services (control/) raise these; the REST API, the Kafka Connect and Tencent Cloud faces,
the CLI and the console translate them into their own answers (HTTP status, error code,
exit code) in one place each, never by reading the message text.
"""

from __future__ import annotations


class DomainError(Exception):
    """Base of every error an operation raises on purpose; the message is for a user."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(DomainError, LookupError):
    """The named object does not exist (HTTP 404)."""


class Conflict(DomainError):
    """The request contradicts the current state (HTTP 409); the message says why."""


class LimitExceeded(Conflict):
    """A cap on how many of something may exist is reached (HTTP 409, Tencent
    `LimitExceeded`); nothing was written. The message names the cap and the server option
    that raises it, and `option` names that option for faces that show it apart."""

    def __init__(self, message: str, *, option: str) -> None:
        super().__init__(message)
        self.option = option


class RateLimited(DomainError):
    """Too many calls of one kind in a short time (HTTP 429 with Retry-After); nothing was
    done. `retry_after_s` is how long until the next call is accepted."""

    def __init__(self, message: str, *, retry_after_s: float) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class InvalidField(DomainError, ValueError):
    """One field of the request is wrong given the state (HTTP 422); nothing was written."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.reason = message


class InstanceUnreachable(DomainError):
    """ksync cannot reach a Kafka instance; the message carries the broker's own words.

    `while_registering` tells a face whether the user's input is at fault (HTTP 422: the
    addresses or settings given) or the cluster is (HTTP 502: a stored instance is down)."""

    def __init__(self, message: str, *, while_registering: bool) -> None:
        super().__init__(message)
        self.while_registering = while_registering
