"""Kafka side of finsent: records, the Faust app and agents, sources, alerts."""
