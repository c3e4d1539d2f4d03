"""The local stack the CLI starts on one machine: the embedded Kafka-protocol broker (Tansu),
the embedded ClickHouse HTTP endpoint (chdb), child processes, and the demo.

Production runs Apache Kafka and a ClickHouse server instead; nothing under ``streams/``,
``sinks/`` or ``schemas/`` imports this package.
"""
