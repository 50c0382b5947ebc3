"""Finding 1: a user's topic regex cannot freeze the server.

Topic patterns run on a linear-time engine; a pattern that engine cannot run
(backreferences, lookaround) or an over-long one is refused with a 422 naming the field,
on every face that takes one: the native API, the Kafka Connect face and the Tencent face.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from ksync.spec import SourceSpec

from .conftest import AppFactory, add_instance

# Backtracks exponentially on Python's `re`: each character of a topic name that does not
# end in "x" doubles the work (the finding's example).
CATASTROPHIC = "([a-z0-9-]+)+x"
TOPIC = "orders-events-2024-customers-eu-west-1-archive-v2"  # 49 characters: 2^49 steps


def test_a_catastrophic_pattern_is_matched_in_linear_time() -> None:
    # In a child process: a backtracking match holds the interpreter lock, so the test
    # process itself could not even notice its deadline.
    code = textwrap.dedent(
        f"""
        from ksync.replication.topic_filter import TopicFilter
        from ksync.spec import SourceSpec
        f = TopicFilter.from_spec(SourceSpec(instance_id="i", topic_regex={CATASTROPHIC!r},
                                             exclude_regex={CATASTROPHIC!r}))
        names = [{TOPIC!r}, {TOPIC!r} + "x", "a" * 249]
        print(f.select(names))
        """
    )
    try:
        done = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"matching {CATASTROPHIC!r} against {TOPIC!r} did not finish in 60 s")
    assert done.returncode == 0, done.stderr
    # Semantics kept: a whole-name match, and the exclude pattern wins.
    assert done.stdout.strip() == "[]"


def test_matching_stays_a_whole_name_match() -> None:
    from ksync.replication.topic_filter import TopicFilter

    f = TopicFilter.from_spec(
        SourceSpec(instance_id="i", topics=["plain"], topic_regex="audit-.*|orders", exclude_regex=".*-tmp")
    )
    assert f.select(["audit-1", "xaudit-1", "orders", "orders2", "audit-1-tmp", "plain", "__x"]) == [
        "audit-1",
        "orders",
        "plain",
    ]


@pytest.mark.parametrize(
    ("field", "pattern", "words"),
    [
        ("topic_regex", r"(a)\1", "backreferences"),
        ("topic_regex", "(?=orders).*", "lookaround"),
        ("exclude_regex", "(?<!x)tmp", "lookaround"),
        ("exclude_regex", "(?>a)", "atomic"),
        ("topic_regex", "a" * 1001, "at most 1000"),
    ],
)
def test_the_native_api_refuses_a_pattern_it_cannot_run_safely(
    make_client: AppFactory, field: str, pattern: str, words: str
) -> None:
    client = make_client()
    source = {"instance_id": "ins-x", "topics": ["t"], field: pattern}
    r = client.post("/api/v1/tasks", json={"name": "t1", "source": source, "target": {"instance_id": "ins-y"}})
    assert r.status_code == 422, r.text
    message = r.json()["error"]["message"]
    assert message.startswith(f"source.{field}: "), message
    assert words in message, message


def test_the_connect_face_refuses_lookaround_in_topics(make_client: AppFactory) -> None:
    client = make_client()
    config = {
        "name": "regex-check",
        "connector.class": "MirrorSourceConnector",
        "source.cluster.bootstrap.servers": "127.0.0.1:1",
        "target.cluster.bootstrap.servers": "127.0.0.1:2",
        "topics": "orders,(?!internal).*",
        "topics.exclude": CATASTROPHIC,
    }
    r = client.put("/connector-plugins/MirrorSourceConnector/config/validate", json=config)
    assert r.status_code == 200, r.text
    errors = {c["value"]["name"]: c["value"]["errors"] for c in r.json()["configs"]}
    assert any("lookaround" in e for e in errors["topics"]), errors
    assert errors["topics.exclude"] == [], errors  # nested quantifiers are fine on RE2


def test_the_tencent_face_refuses_lookaround(make_client: AppFactory, store) -> None:  # type: ignore[no-untyped-def]
    src = add_instance(store, "src")
    dst = add_instance(store, "dst")
    client = make_client()
    body = {
        "TaskName": "tc-regex",
        "TaskType": "SOURCE",
        "SourceResource": {
            "Type": "KAFKA",
            "KafkaParam": {"Resource": src, "SelfBuilt": True, "TopicRegularExpression": "(?=a).*"},
        },
        "TargetResource": {"Type": "KAFKA", "KafkaParam": {"Resource": dst, "SelfBuilt": True}},
    }
    headers = {"x-tc-action": "CreateDatahubTask", "x-tc-version": "2019-08-19"}
    r = client.post("/", json=body, headers=headers)
    error = r.json()["Response"].get("Error")
    assert error is not None, r.text
    assert error["Code"] == "InvalidParameterValue", error
    assert "TopicRegularExpression" in error["Message"] and "lookaround" in error["Message"], error


def test_a_stored_pattern_saved_before_the_rule_stays_readable_and_is_refused_when_run() -> None:
    # A task saved by an older ksync may hold a lookaround: the API must still show it,
    # and evaluating its selection fails with the field named (a warning on the task).
    from ksync.patterns import PatternError
    from ksync.replication.topic_filter import TopicFilter
    from ksync.spec import STORED, TaskSpec

    stored = {
        "name": "old",
        "source": {"instance_id": "i", "topic_regex": "(?=a).*"},
        "target": {"instance_id": "j"},
    }
    spec = TaskSpec.model_validate(stored, context=STORED)
    with pytest.raises(PatternError, match=r"^source\.topic_regex is not a valid regular expression"):
        TopicFilter.from_spec(spec.source)
