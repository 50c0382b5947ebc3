"""Thin typed layer over confluent-kafka: client settings, admin calls, error classes.

Nothing above this package builds a librdkafka config dict or inspects a raw KafkaError.
"""
