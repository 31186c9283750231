"""Alerting: anomaly rules over closed topic buckets, the alert lifecycle, and signed
webhook delivery through a PostgreSQL outbox.

``rules``, ``lifecycle``, ``clock`` and ``evaluation`` are pure (plain data in,
decisions out); ``config`` loads the rules and receivers YAML; ``events`` and
``formats`` shape what is sent; ``evaluator`` and ``delivery`` do the I/O (PostgreSQL,
HTTP); ``echo`` is a webhook receiver for the demo. Nothing here speaks Kafka:
``streams.alerting`` wires the evaluation timer and the deliverer into the worker.
"""
