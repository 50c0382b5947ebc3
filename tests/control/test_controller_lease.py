"""The controller acts only while it holds its lease (`Controller._still_holds`): a tick
that outlasts the lease (a starved machine, a slow store) stops where it is, because a
standby may by then hold the lease and act, and two controllers must never act at once."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from helpers import wait_until

from ksync.control.controller import LEASE, Controller, ControllerSettings
from ksync.store.repo import Store


def test_a_tick_that_outlasts_its_lease_stops_acting(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    # A lease of half a second (worker timeout 1 s, tick 0.5 s).
    controller = Controller(store, ControllerSettings(holder_id="a", worker_timeout_s=1.0, tick_s=0.5))
    after_takeover: list[str] = []

    def standby_takes_over() -> None:
        # The tick is held up until another holder can take the lease: what a standby
        # does once the active controller's lease has lapsed.
        wait_until(
            lambda: store.leases.try_take(LEASE, "b", timedelta(seconds=30)),
            timeout_s=30,
            interval_s=0.05,
            what="the lease to lapse",
        )

    controller.periodic = [
        ("standby takes over", standby_takes_over),
        ("would act", lambda: after_takeover.append("acted")),
    ]
    with caplog.at_level(logging.INFO, logger="ksync.control.controller"):
        controller._step()

    assert after_takeover == [], "the controller acted after its lease ran out"
    assert controller.active is False
    assert "controller a stands by (its lease ran out" in caplog.text
    # And it does not take the lease back while the other holds it.
    controller._step()
    assert controller.active is False


def test_a_controller_holding_its_lease_runs_every_job(store: Store) -> None:
    controller = Controller(store, ControllerSettings(holder_id="a"))
    ran: list[str] = []
    controller.periodic = [("first", lambda: ran.append("first")), ("second", lambda: ran.append("second"))]
    controller._step()
    assert controller.active is True
    assert ran == ["first", "second"]
