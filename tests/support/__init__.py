"""Support for tests and benchmarks that start the real services: ports, waiting, child
processes, Kafka offsets and /metrics scrapes. One definition of each, used by
``tests/integration``, ``tests/chaos`` and ``benchmarks/``; pytest fixtures live in
``tests/conftest.py``.
"""
