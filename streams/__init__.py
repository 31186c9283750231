"""What speaks Kafka: the record formats, topics, publishing and replay, the Faust app
and its agents (with the stages and counters they run), the worker, the local brokers,
and tagging items with topics on their way through."""
