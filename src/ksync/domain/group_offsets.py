"""Consumer-group offset sync as every layer sees it (`options.sync_group_offsets`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class GroupOffsetView:
    """The last sync of one group's partition: its committed source offset, where that
    is on the target (`target_offset`, None when no offset pair covers it yet), what the
    target group had committed when last looked at, and why it was not written (`note`,
    None when it was or already stood there)."""

    group_id: str
    topic: str
    partition: int
    target_topic: str
    source_offset: int
    target_offset: int | None
    target_committed: int | None
    synced_at: datetime | None
    checked_at: datetime
    note: str | None = None

    @property
    def lag(self) -> int | None:
        """Records the target group's committed offset is behind the translation of the
        source group's (the sync lag); None while either is unknown."""
        if self.target_offset is None or self.target_committed is None:
            return None
        return max(0, self.target_offset - self.target_committed)
