"""Every validation message reaches the user in words, next to the field it concerns.

The messages are the API's own (the console validates nothing the API decides); each
test makes one mistake in the form and checks where its message appears. The instance
form needs no cluster, so it runs on the console served in process (`local_console`);
the task wizard lists the source's topics, so it runs on the server over the shared Kafka
clusters (`console_server`), with topic and task names of its own.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from helpers import create_topic, task_body, wait_until
from playwright.sync_api import expect

from ksync.control import instances as instance_service
from ksync.devkafka import KafkaCluster, free_port

from .support import LocalConsole, choose_source, choose_target, field_error, open_page, to_review

UID = uuid.uuid4().hex[:6]
TOPIC_A, TOPIC_B = f"vt-a-{UID}", f"vt-b-{UID}"


@pytest.fixture(scope="module")
def instances(client: httpx.Client, brokers: tuple[KafkaCluster, KafkaCluster]) -> tuple[str, str]:
    """The module's brokers registered through the API: (source id, target id)."""
    src, dst = brokers
    create_topic(src, TOPIC_A, 2)
    create_topic(src, TOPIC_B, 1)
    # The target has a topic of its own: the loop test picks it as a source, and the
    # wizard lists topics before anything else (a fresh target may have none yet).
    create_topic(dst, f"vt-back-{UID}", 1)
    ids = []
    for broker, name in ((src, f"vsrc-{UID}"), (dst, f"vdst-{UID}")):
        r = client.post(
            "/api/v1/instances", json={"name": name, "bootstrap_servers": broker.bootstrap}
        )
        assert r.status_code == 201, r.text
        ids.append(r.json()["id"])
    return ids[0], ids[1]


@pytest.fixture
def wizard(page: Any, console_server: Any, instances: tuple[str, str]) -> Any:
    open_page(page, console_server.url, "/tasks/new")
    return page


def pick(page: Any, src: str, topics: list[str], name: str | None = None) -> None:
    choose_source(page, src)
    for t in topics:
        page.check(f'#topic-picker input[value="{t}"]')
    page.fill("#task-name", name or f"v-{uuid.uuid4().hex[:6]}")


def create(page: Any) -> None:
    to_review(page)
    page.click("#wizard-create")


def visible_step(page: Any) -> str:
    return str(page.locator("section.step:not([hidden])").get_attribute("data-step"))


# ---- instance form ------------------------------------------------------------------------


@pytest.fixture
def instance_form(page: Any, local_console: LocalConsole) -> Any:
    open_page(page, local_console.url, "/instances")
    page.click("#add-instance")
    page.fill("#inst-name", f"bad-{uuid.uuid4().hex[:6]}")
    return page


def test_bad_bootstrap_servers(instance_form: Any) -> None:
    page = instance_form
    page.fill("#inst-bootstrap", "not-a-host")
    page.click("#inst-submit")
    expect(field_error(page, "bootstrap_servers")).to_have_text(
        "'not-a-host' is not host:port with a port from 1 to 65535"
    )
    expect(field_error(page, "name")).to_be_hidden()


def test_unreachable_instance(instance_form: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # The refusal comes at once from the client; the check then waits out its timeout,
    # which is not what is under test here beyond being long enough to show the form's
    # pending state.
    monkeypatch.setattr(instance_service, "CONNECT_TIMEOUT_S", 3.0)
    page = instance_form
    port = free_port()
    page.fill("#inst-bootstrap", f"127.0.0.1:{port}")
    page.click("#inst-submit")
    expect(page.locator("#instance-form .form-status")).to_have_text("Connecting to the brokers…")
    expect(field_error(page, "bootstrap_servers")).to_contain_text(
        f"cannot reach 127.0.0.1:{port}", timeout=30_000
    )
    expect(page.locator("#instance-table tbody tr", has_text=f"127.0.0.1:{port}")).to_have_count(0)


def test_empty_instance_name(instance_form: Any) -> None:
    page = instance_form
    page.fill("#inst-name", "")
    page.fill("#inst-bootstrap", "127.0.0.1:9092")
    page.click("#inst-submit")
    expect(field_error(page, "name")).to_have_text("String should have at least 1 character")


def test_sasl_without_credentials(instance_form: Any) -> None:
    page = instance_form
    page.fill("#inst-bootstrap", "127.0.0.1:9092")
    page.select_option("#inst-protocol", "SASL_PLAINTEXT")
    page.click("#inst-submit")
    expect(field_error(page, "security")).to_have_text(
        "security.username and security.password are required with protocol SASL_PLAINTEXT"
    )


def test_sync_quota_must_be_positive(instance_form: Any) -> None:
    page = instance_form
    page.fill("#inst-bootstrap", "127.0.0.1:9092")
    page.fill("#inst-quota", "-5")
    page.click("#inst-submit")
    expect(field_error(page, "sync_quota_mb_s")).to_have_text("Input should be greater than 0")


def test_edit_instance_onto_another_cluster(
    page: Any,
    console_server: Any,
    instances: tuple[str, str],
    brokers: tuple[KafkaCluster, KafkaCluster],
) -> None:
    src_id = instances[0]
    open_page(page, console_server.url, "/instances")
    page.locator(f'#instance-table tr[data-id="{src_id}"] button', has_text="Edit").click()
    page.fill("#inst-bootstrap", brokers[1].bootstrap)
    page.click("#inst-submit")
    expect(field_error(page, "bootstrap_servers")).to_contain_text(
        f"these servers belong to Kafka cluster {brokers[1].cluster_id}, but instance {src_id} is cluster {brokers[0].cluster_id}"
    )


# ---- task wizard ----------------------------------------------------------------------------


def test_next_needs_a_source_instance(page: Any, local_console: LocalConsole) -> None:
    open_page(page, local_console.url, "/tasks/new")
    page.click("#wizard-next")
    expect(field_error(page, "source.instance_id")).to_have_text(
        "Choose the instance to copy from."
    )
    assert visible_step(page) == "1"


def test_empty_selection(wizard: Any, instances: tuple[str, str]) -> None:
    src, dst = instances
    pick(wizard, src, [])
    wizard.click("#wizard-next")
    choose_target(wizard, dst)
    to_review(wizard)
    expect(wizard.locator("#review")).to_contain_text("No topic is picked and no regex given")
    wizard.click("#wizard-create")
    expect(field_error(wizard, "source")).to_have_text(
        "the topic selection is empty: give source.topics (a list of names), source.topic_regex, or both"
    )
    assert visible_step(wizard) == "1"


def test_invalid_regex(wizard: Any, instances: tuple[str, str]) -> None:
    src, dst = instances
    pick(wizard, src, [])
    wizard.fill("#topic-regex", "vt-(a")
    # The live preview says at once that it cannot read the pattern …
    expect(wizard.locator("#regex-check")).to_contain_text("cannot read this regex")
    wizard.click("#wizard-next")
    choose_target(wizard, dst)
    create(wizard)
    # … and the API's own message lands next to the field on create.
    expect(field_error(wizard, "source.topic_regex")).to_have_text(
        "topic_regex is not a valid regular expression (missing ): vt-(a)"
    )
    assert visible_step(wizard) == "1"


def test_invalid_exclude_regex(wizard: Any, instances: tuple[str, str]) -> None:
    src, dst = instances
    pick(wizard, src, [TOPIC_A])
    wizard.fill("#exclude-regex", "[vt")
    wizard.click("#wizard-next")
    choose_target(wizard, dst)
    create(wizard)
    expect(field_error(wizard, "source.exclude_regex")).to_contain_text(
        "exclude_regex is not a valid regular expression"
    )


def test_regex_preview_matches_whole_names(wizard: Any, instances: tuple[str, str]) -> None:
    src, _ = instances
    pick(wizard, src, [])
    wizard.fill("#topic-regex", f"vt-.-{UID}")
    expect(wizard.locator("#matched-topics .chip")).to_have_text([TOPIC_A, TOPIC_B])
    wizard.fill("#topic-regex", "vt-a")  # a prefix only: fullmatch semantics match nothing
    expect(wizard.locator("#selection-preview")).to_contain_text(
        "The regex matches no topic right now"
    )
    wizard.fill("#topic-regex", f"vt-.-{UID}")
    wizard.fill("#exclude-regex", f"vt-b-{UID}")
    expect(wizard.locator("#matched-topics .chip")).to_have_text([TOPIC_A])


def test_timestamp_without_value(wizard: Any, instances: tuple[str, str]) -> None:
    src, dst = instances
    pick(wizard, src, [TOPIC_A])
    wizard.click("#wizard-next")
    choose_target(wizard, dst)
    wizard.click("#wizard-next")
    wizard.check("#start-timestamp")
    create(wizard)
    expect(field_error(wizard, "source.start")).to_have_text(
        "start.timestamp_ms is required when start.type is 'timestamp'"
    )
    assert visible_step(wizard) == "3"


def test_same_cluster_without_prefix(
    wizard: Any, instances: tuple[str, str], brokers: tuple[KafkaCluster, KafkaCluster]
) -> None:
    src, _ = instances
    pick(wizard, src, [TOPIC_A])
    wizard.click("#wizard-next")
    choose_target(wizard, src)
    expect(wizard.locator("#same-cluster")).to_be_visible()
    create(wizard)
    expect(field_error(wizard, "target.topic_prefix")).to_have_text(
        f"source and target are the same Kafka cluster ({brokers[0].cluster_id}); with an empty prefix "
        "every topic would be synced onto itself: set a prefix"
    )
    assert visible_step(wizard) == "2"


def test_prefix_with_bad_characters(wizard: Any, instances: tuple[str, str]) -> None:
    src, dst = instances
    pick(wizard, src, [TOPIC_A])
    wizard.click("#wizard-next")
    choose_target(wizard, dst)
    wizard.fill("#topic-prefix", "dr site")
    create(wizard)
    expect(field_error(wizard, "target.topic_prefix")).to_have_text(
        "'dr site' may only contain [A-Za-z0-9._-]: it becomes part of topic names"
    )


def test_options_out_of_range(wizard: Any, instances: tuple[str, str]) -> None:
    src, dst = instances
    pick(wizard, src, [TOPIC_A])
    wizard.click("#wizard-next")
    choose_target(wizard, dst)
    wizard.click("#wizard-next")
    wizard.fill("#task-max", "65")
    wizard.fill("#throttle", "0")
    create(wizard)
    expect(field_error(wizard, "options.task_max")).to_have_text(
        "Input should be less than or equal to 64"
    )
    expect(field_error(wizard, "options.throttle_mb_s")).to_have_text(
        "Input should be greater than 0"
    )
    expect(field_error(wizard, "options.qps_limit")).to_be_hidden()


@pytest.fixture(scope="module")
def existing_task(client: httpx.Client, instances: tuple[str, str]) -> Iterator[dict[str, Any]]:
    """A paused task (nothing runs) that tests can collide with; none of them changes it."""
    src, dst = instances
    r = client.post(
        "/api/v1/tasks", json=task_body(src, dst, name=f"taken-{UID}", topics=[TOPIC_B])
    )
    assert r.status_code == 202, r.text
    task = r.json()
    client.post(f"/api/v1/tasks/{task['id']}/pause")
    yield task
    client.delete(f"/api/v1/tasks/{task['id']}")
    wait_until(lambda: client.get(f"/api/v1/tasks/{task['id']}").status_code == 404, timeout_s=60)


def test_duplicate_task_name(
    wizard: Any, instances: tuple[str, str], existing_task: dict[str, Any]
) -> None:
    src, dst = instances
    pick(wizard, src, [TOPIC_A], name=existing_task["name"])
    wizard.click("#wizard-next")
    choose_target(wizard, dst)
    create(wizard)
    expect(field_error(wizard, "name")).to_have_text(
        f"a task named '{existing_task['name']}' already exists ({existing_task['id']})"
    )
    assert visible_step(wizard) == "1"


def test_loop_warning(
    existing_task: dict[str, Any], wizard: Any, instances: tuple[str, str]
) -> None:
    """The reverse of an existing task is allowed, with a clear warning before creating."""
    src, dst = instances
    pick(wizard, dst, [], name=f"back-{UID}")
    wizard.fill("#topic-regex", "nothing-matches")
    wizard.click("#wizard-next")
    choose_target(wizard, src)
    warning = wizard.locator("#loop-warning")
    expect(warning).to_be_visible()
    expect(warning).to_contain_text(
        f"would close a sync loop with task {existing_task['name']} ({existing_task['id']})"
    )
    to_review(wizard)
    expect(wizard.locator("#review")).to_contain_text("close a sync loop")


def test_option_change_out_of_range(
    page: Any, console_server: Any, existing_task: dict[str, Any]
) -> None:
    open_page(page, console_server.url, f"/tasks/{existing_task['id']}")
    page.click("#edit-options")
    page.fill("#opt-qps", "0")
    page.click("#options-save")
    expect(field_error(page, "options.qps_limit")).to_have_text("Input should be greater than 0")
    expect(page.locator("#options-form")).to_be_visible()


def test_deleting_an_instance_in_use_is_refused(
    page: Any, console_server: Any, instances: tuple[str, str], existing_task: dict[str, Any]
) -> None:
    src = instances[0]
    open_page(page, console_server.url, "/instances")
    page.locator(f'#instance-table tr[data-id="{src}"] button', has_text="Delete").click()
    expect(page.locator("#dialog")).to_contain_text(
        "The Kafka cluster and its topics are not touched"
    )
    page.locator('#dialog[open] [data-action="confirm"]').click()
    expect(page.locator(".flash.error")).to_contain_text(
        f"instance {src} is used by task(s) {existing_task['id']}; delete those tasks first"
    )
    expect(page.locator(f'#instance-table tr[data-id="{src}"]')).to_be_visible()


def test_far_cluster_options_from_the_wizard_and_the_options_editor(
    wizard: Any, console_server: Any, client: httpx.Client, instances: tuple[str, str]
) -> None:
    """Compression, linger and batch cap chosen in the wizard reach the task; the options
    editor shows them, refuses a bad value next to its field, and PATCHes a good one."""
    src, dst = instances
    name = f"far-{uuid.uuid4().hex[:6]}"
    pick(wizard, src, [TOPIC_A], name=name)
    wizard.click("#wizard-next")
    choose_target(wizard, dst)
    wizard.click("#wizard-next")
    wizard.select_option("#compression", "lz4")
    wizard.fill("#linger-ms", "50")
    wizard.fill("#batch-bytes", "262144")
    to_review(wizard)
    review = wizard.locator("#review")
    for words in ("lz4", "50 ms", "262144 bytes"):
        expect(review).to_contain_text(words)
    wizard.click("#wizard-create")
    wizard.wait_for_url("**/#/tasks")
    task = next(t for t in client.get("/api/v1/tasks").json()["tasks"] if t["name"] == name)
    url = f"/api/v1/tasks/{task['id']}"
    try:
        tuning = ("compression", "linger_ms", "batch_bytes", "fetch_max_bytes")
        assert {k: task["options"][k] for k in tuning} == {
            "compression": "lz4", "linger_ms": 50, "batch_bytes": 262_144, "fetch_max_bytes": 52_428_800
        }

        open_page(wizard, console_server.url, f"/tasks/{task['id']}")
        expect(wizard.locator("#config")).to_contain_text("lz4")
        wizard.click("#edit-options")
        expect(wizard.locator("#opt-compression")).to_have_value("lz4")
        expect(wizard.locator("#opt-linger-ms")).to_have_value("50")
        wizard.select_option("#opt-compression", "zstd")
        wizard.fill("#opt-linger-ms", "99999")
        wizard.click("#options-save")
        expect(field_error(wizard, "options.linger_ms")).to_have_text(
            "Input should be less than or equal to 10000"
        )
        assert client.get(url).json()["options"]["compression"] == "lz4"  # nothing changed
        wizard.fill("#opt-linger-ms", "20")
        wizard.click("#options-save")
        expect(wizard.locator("#config")).to_contain_text("zstd")
        expect(wizard.locator("#config")).to_contain_text("20 ms")
        changed = client.get(url).json()["options"]
        assert (changed["compression"], changed["linger_ms"], changed["batch_bytes"]) == ("zstd", 20, 262_144)
    finally:
        client.delete(url)
        wait_until(lambda: client.get(url).status_code == 404, timeout_s=60)


def test_delivery_from_the_wizard_and_the_options_editor(
    wizard: Any, console_server: Any, client: httpx.Client, instances: tuple[str, str]
) -> None:
    """Exactly-once chosen in the wizard reaches the task and shows on its page; the
    options editor refuses a switch while the task runs (pause first) and makes it once
    the task is paused."""
    src, dst = instances
    name = f"eos-{uuid.uuid4().hex[:6]}"
    pick(wizard, src, [TOPIC_A], name=name)
    wizard.click("#wizard-next")
    choose_target(wizard, dst)
    wizard.click("#wizard-next")
    wizard.select_option("#wiz-delivery", "exactly_once")
    to_review(wizard)
    expect(wizard.locator("#review")).to_contain_text("exactly once")
    wizard.click("#wizard-create")
    wizard.wait_for_url("**/#/tasks")
    task = next(t for t in client.get("/api/v1/tasks").json()["tasks"] if t["name"] == name)
    url = f"/api/v1/tasks/{task['id']}"
    try:
        assert task["options"]["delivery"] == "exactly_once"
        open_page(wizard, console_server.url, f"/tasks/{task['id']}")
        expect(wizard.locator("#config")).to_contain_text("exactly once")
        wizard.click("#edit-options")
        expect(wizard.locator("#opt-delivery")).to_have_value("exactly_once")
        wizard.select_option("#opt-delivery", "at_least_once")
        wizard.click("#options-save")
        expect(wizard.locator("#options-form")).to_contain_text("pause it before changing options.delivery")
        assert client.get(url).json()["options"]["delivery"] == "exactly_once"  # nothing changed
        client.post(f"{url}/pause")
        wait_until(lambda: client.get(url).json()["status"] == "Paused", timeout_s=60)
        wizard.click("#options-save")
        expect(wizard.locator("#config")).to_contain_text("at least once")
        assert client.get(url).json()["options"]["delivery"] == "at_least_once"
    finally:
        client.delete(url)
        wait_until(lambda: client.get(url).status_code == 404, timeout_s=60)
