"""Fixtures for engine tests: running `Member`s in threads against the module's brokers.

`run_member` starts a member in a thread and hands back a `RunningMember`; whatever a test
leaves running is stopped (stop() + join) at teardown, and an exception the member raised
fails the test (through `RunningMember.stop`/`snapshot`) instead of dying in its thread.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from ksync.replication.member import Member, MemberConfig

from .support import RunningMember


@pytest.fixture
def run_member() -> Iterator[Callable[..., RunningMember]]:
    """`run_member(cfg)` or `run_member(member)`: start it; stopped at teardown at the latest.

    Teardown fails the test if any member raised, even one the test never stopped itself.
    """
    started: list[RunningMember] = []

    def start(what: MemberConfig | Member) -> RunningMember:
        member = what if isinstance(what, Member) else Member(what)
        running = RunningMember(member)
        started.append(running)
        return running

    yield start
    for running in started:
        running.member.stop()
    failures = []
    for running in started:
        try:
            running.stop()
        except AssertionError as exc:
            failures.append(str(exc))
    assert not failures, failures
