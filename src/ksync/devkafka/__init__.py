"""Local Kafka for the demo (tansu), the tests and the benchmark (Apache Kafka).

Process plumbing is in `processes`, the tansu broker in `tansu`, Kafka clusters in `kafka`,
their certificates in `tls`.
"""

from ksync.devkafka.kafka import KafkaCluster, KafkaUnavailable, kafka_clusters
from ksync.devkafka.processes import free_port, spawn, stop_process, wait_for_port
from ksync.devkafka.tansu import LocalBroker, local_brokers

__all__ = [
    "KafkaCluster",
    "KafkaUnavailable",
    "LocalBroker",
    "free_port",
    "kafka_clusters",
    "local_brokers",
    "spawn",
    "stop_process",
    "wait_for_port",
]
