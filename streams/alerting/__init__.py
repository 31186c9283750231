"""Alerting: anomaly rules over closed topic buckets, the alert lifecycle, and signed
webhook delivery through a PostgreSQL outbox.

``rules`` and ``lifecycle`` are pure (plain data in, decisions out); ``config`` loads the
rules and receivers YAML; ``events`` and ``formats`` shape what is sent; ``evaluator``
and ``delivery`` do the I/O; ``agent`` wires them into the Faust worker.
"""
