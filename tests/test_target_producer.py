"""When the target producer may send records to a topic: only once its metadata lists
every partition with a leader, so no record waits in librdkafka's unassigned queue while
later ones overtake it. Built from confluent-kafka's own metadata objects, no broker (the
copy itself is checked in tests/replication and tests/e2e/test_fidelity.py)."""

from __future__ import annotations

from confluent_kafka import KafkaError
from confluent_kafka.admin import PartitionMetadata, TopicMetadata

from ksync.kafka.target_producer import metadata_gap


def topic(leaders: dict[int, int], error: KafkaError | None = None) -> TopicMetadata:
    meta = TopicMetadata()
    meta.topic = "t"
    meta.error = error
    meta.partitions = {}
    for pid, leader in leaders.items():
        part = PartitionMetadata()
        part.id = pid
        part.leader = leader
        meta.partitions[pid] = part
    return meta


def test_a_topic_listed_with_a_leader_for_every_partition_is_ready() -> None:
    assert metadata_gap(topic({0: 1, 1: 2, 2: 1})) is None


def test_a_topic_not_listed_yet_is_not_ready() -> None:
    gap = metadata_gap(None)
    assert gap is not None and gap.code() == KafkaError.UNKNOWN_TOPIC_OR_PART
    # A just-created topic can be listed with no partitions before they are placed.
    gap = metadata_gap(topic({}))
    assert gap is not None and gap.code() == KafkaError.UNKNOWN_TOPIC_OR_PART


def test_a_partition_without_a_leader_makes_the_topic_not_ready() -> None:
    gap = metadata_gap(topic({0: 1, 1: -1}))
    assert gap is not None and gap.code() == KafkaError.LEADER_NOT_AVAILABLE


def test_a_partition_missing_from_the_list_makes_the_topic_not_ready() -> None:
    gap = metadata_gap(topic({0: 1, 2: 1}))
    assert gap is not None and gap.code() == KafkaError._UNKNOWN_PARTITION


def test_the_topic_error_is_the_reason() -> None:
    denied = KafkaError(KafkaError.TOPIC_AUTHORIZATION_FAILED)
    assert metadata_gap(topic({}, error=denied)) == denied
