"""ksync: a self-hosted Kafka data sync service."""

__version__ = "0.1.0"
