"""Monitoring: latency histograms, metric aggregation and history, Prometheus, alarms."""
