"""Loop prevention through the `ksync-origin` header.

Invariant: every record ksync writes carries `ksync-origin` = the Kafka cluster id of the
instance where the record was first produced; a record that already carries one keeps it.
A member never writes a record whose origin is the target's own cluster id, so A->B plus
B->A on the same topic names copies each record exactly once and never loops.
"""

from __future__ import annotations

ORIGIN_HEADER = "ksync-origin"


def origin_of(headers: list[tuple[str, bytes | None]] | None) -> bytes | None:
    """The origin cluster id a record carries, or None when it has none."""
    if headers:
        for key, value in headers:
            if key == ORIGIN_HEADER:
                return value
    return None
