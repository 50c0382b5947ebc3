"""Traffic limits without a broker: the limiter's pace and each member's share."""

from __future__ import annotations

import pytest

from ksync.replication.throttle import MB, Limits, Throttle, member_limits


def test_the_limiter_paces_batches_at_the_rate_with_no_initial_burst() -> None:
    throttle = Throttle(Limits(bytes_per_s=1 * MB))
    now, sent = 1000.0, 0
    for _ in range(200):  # 100 KB batches, sent as soon as allowed
        now += throttle.delay(100, 100_000, now=now)
        sent += 100_000
    # 200 batches of 0.1 s each: 20 MB in 20 s, give or take the first batch.
    assert 19.8 <= now - 1000.0 <= 20.0
    assert sent == 20 * MB


def test_the_first_throttled_batch_is_small_until_the_record_size_is_known() -> None:
    throttle = Throttle(Limits(bytes_per_s=1 * MB))
    assert throttle.max_batch(5000, 0.0) == 10
    assert throttle.max_batch(5000, 1000.0) == 100  # a tenth of a second of 1,000-byte records
    assert Throttle(Limits(records_per_s=200)).max_batch(5000, 0.0) == 20


@pytest.mark.parametrize(
    ("owned", "expected_mb"),
    [(2, 0.5), (1, 0.25), (None, 0.5)],  # None: no partitions yet, 1 / task_max
)
def test_a_task_limit_is_shared_by_partitions_owned(owned: int | None, expected_mb: float) -> None:
    limits = member_limits(
        member_partitions=owned,
        task_partitions=4,
        task_max=2,
        throttle_mb_s=1,
        qps_limit=400,
        instance_quotas=[],
    )
    assert limits.bytes_per_s == pytest.approx(expected_mb * MB)
    assert limits.records_per_s == pytest.approx(400 * expected_mb)


def test_an_instance_quota_is_shared_by_every_task_using_the_instance() -> None:
    # Two tasks of 2 partitions each write to an instance with a 0.5 MB/s quota.
    limits = member_limits(
        member_partitions=2,
        task_partitions=2,
        task_max=1,
        throttle_mb_s=None,
        qps_limit=None,
        instance_quotas=[(0.5, 4)],
    )
    assert limits.bytes_per_s == pytest.approx(0.25 * MB)
    assert limits.records_per_s is None
    # The tighter of the task's own limit and the quota wins.
    tight = member_limits(
        member_partitions=2, task_partitions=2, task_max=1, throttle_mb_s=0.1, qps_limit=None,
        instance_quotas=[(0.5, 4)],
    )
    assert tight.bytes_per_s == pytest.approx(0.1 * MB)
