"""Compatibility of streams/faust_internals.py with the installed faust-streaming and aiokafka.

Every private name the module uses is checked here on the installed versions: present,
callable (a coroutine where it is awaited) with the parameters it is called with, the
ConsumerMessage fields in their order, and that aiokafka still reads the fetch wait from
the attribute the worker assigns. Each failure names the attribute that changed, so an
upgrade of faust-streaming fails in ``make test``, not in production.
"""

from __future__ import annotations

import ast
import asyncio
import importlib
import inspect
import re
import threading
from pathlib import Path

import aiokafka
import faust
import faust.transport.consumer as faust_consumer
import pytest
from aiokafka.consumer.fetcher import Fetcher
from faust.transport.consumer import Consumer, ThreadDelegateConsumer
from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread
from faust.types.tuples import ConsumerMessage
from mode import Service

import streams.faust_internals as internals
from streams.faust_internals import CONSUMER_MESSAGE_FIELDS, PRIVATE_NAMES, BatchingApp, BatchingConsumer

TOPIC = "cdrs"


@pytest.fixture(scope="module")
def consumer() -> BatchingConsumer:
    app = BatchingApp("faust-internals-test", broker="kafka://127.0.0.1:1", batch_topics={TOPIC: 100})
    made = app.consumer
    assert isinstance(made, BatchingConsumer)
    return made


def resolve(where: str) -> object:
    module, _, name = where.rpartition(".")
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        return importlib.import_module(where)


def names_used_in_module() -> set[str]:
    """Every ``_private`` attribute name the module reads, writes or calls (dunders aside)."""
    tree = ast.parse(Path(internals.__file__).read_text())
    return {
        node.attr for node in ast.walk(tree)
        if isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__")
    } | {
        node.name for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("_")
        and not node.name.startswith("__")
    }  # fmt: skip


OWN_HELPERS = {"_deliver", "_unread", "_mark_gaps", "_hand_over", "_refuse", "_ConsumerThread"}


def test_every_private_name_the_module_uses_is_listed_for_checking() -> None:
    listed = {name for _, name, _ in PRIVATE_NAMES}
    unlisted = names_used_in_module() - listed - OWN_HELPERS
    assert unlisted == set(), f"private names used but not checked here: {sorted(unlisted)}"


def test_every_listed_owner_still_exists() -> None:
    for where, name, _ in PRIVATE_NAMES:
        assert resolve(where) is not None, f"{where} (for {name}) is gone"


@pytest.mark.parametrize(
    ("owner", "name", "params"),
    [
        (Consumer, "_drain_messages", ["self", "fetcher"]),
        (Consumer, "_wait_next_records", ["self", "timeout"]),
        (Consumer, "_add_gap", ["self", "tp", "offset_from", "offset_to"]),
        (Consumer, "_commit_offsets", ["self", "offsets", "start_new_transaction"]),
        (ThreadDelegateConsumer, "_commit", ["self", "offsets"]),
    ],
)
def test_awaited_private_methods_are_coroutines_with_the_same_parameters(
    owner: type, name: str, params: list[str]
) -> None:
    method = getattr(owner, name, None)
    assert method is not None, f"{owner.__name__}.{name} is gone"
    assert inspect.iscoroutinefunction(method), f"{owner.__name__}.{name} is no longer a coroutine"
    got = list(inspect.signature(method).parameters)
    assert got == params, f"{owner.__name__}.{name} now takes {got}"


@pytest.mark.parametrize(
    ("owner", "name", "params"),
    [
        (ThreadDelegateConsumer, "_new_consumer_thread", ["self"]),
        (Consumer, "_to_message", ["self", "tp", "record"]),
        (AIOKafkaConsumerThread, "_create_worker_consumer", ["self", "transport"]),
        (faust.App, "_new_transport", ["self"]),
    ],
)
def test_overridden_factories_keep_their_signature(owner: type, name: str, params: list[str]) -> None:
    method = getattr(owner, name, None)
    assert callable(method), f"{owner.__name__}.{name} is gone"
    got = list(inspect.signature(method).parameters)
    assert got == params, f"{owner.__name__}.{name} now takes {got}"


def test_overrides_are_the_ones_faust_calls(consumer: BatchingConsumer) -> None:
    assert type(consumer.app.transport).Consumer is BatchingConsumer, "App._new_transport is no longer used"
    assert "consumer._drain_messages(self)" in inspect.getsource(faust_consumer), \
        "Faust's Fetcher no longer runs Consumer._drain_messages"
    assert "self._new_consumer_thread()" in inspect.getsource(ThreadDelegateConsumer), \
        "ThreadDelegateConsumer no longer builds its thread with _new_consumer_thread"
    assert "self._create_worker_consumer(" in inspect.getsource(AIOKafkaConsumerThread), \
        "AIOKafkaConsumerThread no longer calls _create_worker_consumer"
    commit_offsets = inspect.getsource(Consumer._commit_offsets)
    assert "did_commit = await self._commit(committable_offsets)" in commit_offsets, \
        "Consumer._commit_offsets no longer learns from _commit whether the broker took the commit"


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("_read_offset", dict), ("_acked", dict), ("_acked_index", dict), ("_committed_offset", dict),
        ("_n_acked", int), ("_buffered_partitions", set),
    ],
)  # fmt: skip
def test_consumer_bookkeeping_attributes_exist_with_their_kind(
    consumer: BatchingConsumer, name: str, kind: type
) -> None:
    assert hasattr(consumer, name), f"Consumer.{name} is gone"
    value = getattr(consumer, name)
    assert isinstance(value, kind) or (kind is dict and hasattr(value, "__getitem__")), \
        f"Consumer.{name} is now {type(value).__name__}"


def test_consumer_ack_helpers_exist(consumer: BatchingConsumer) -> None:
    unacked = consumer._unacked_messages
    assert callable(getattr(unacked, "discard", None)), "Consumer._unacked_messages.discard is gone"
    assert hasattr(consumer, "_commit_every"), "Consumer._commit_every is gone"
    assert hasattr(consumer, "_waiting_for_ack"), "Consumer._waiting_for_ack is gone"
    assert callable(getattr(consumer._stopped, "is_set", None)), "Service._stopped.is_set is gone"
    assert "_stopped" in inspect.getsource(Service.__init__), "mode.Service._stopped is gone"


def test_consumer_message_takes_the_fields_we_fill_in_that_order() -> None:
    params = list(inspect.signature(ConsumerMessage.__init__).parameters)[1:]
    assert params[: len(CONSUMER_MESSAGE_FIELDS) - 1] == list(CONSUMER_MESSAGE_FIELDS[:-1]), \
        f"ConsumerMessage fields are now {params}"
    assert "generation_id" in params, "ConsumerMessage no longer takes generation_id"


def test_ack_lock_is_reentrant() -> None:
    from faust.types.tuples import ack_lock

    acquired = ack_lock.acquire(timeout=1)
    try:
        assert acquired and ack_lock.acquire(timeout=1), "faust.types.tuples.ack_lock is not reentrant"
        ack_lock.release()
    finally:
        if acquired:
            ack_lock.release()
    assert isinstance(ack_lock, type(threading.RLock())), "ack_lock is no longer an RLock"


def test_message_ack_still_hands_the_unacked_message_to_the_consumer(consumer: BatchingConsumer) -> None:
    seen: list[bool] = []
    original = consumer.ack

    def spy(message: ConsumerMessage) -> bool:
        seen.append(message.acked)
        return original(message)

    consumer.ack = spy  # type: ignore[method-assign]  # a spy around the real ack
    try:
        message = ConsumerMessage(TOPIC, 0, 0, 0.0, 0, None, None, b"x", None, 0, 0)
        message.ack(consumer)
    finally:
        del consumer.ack
    assert seen == [False], "Message.ack no longer hands the unacked message to Consumer.ack"


def test_aiokafka_reads_the_fetch_wait_from_the_attribute_we_assign() -> None:
    start = inspect.getsource(aiokafka.AIOKafkaConsumer.start)
    assert "fetch_max_wait_ms=self._fetch_max_wait_ms" in start, \
        "AIOKafkaConsumer.start no longer hands self._fetch_max_wait_ms to its Fetcher"
    assert "self._fetch_max_wait_ms = fetch_max_wait_ms" in inspect.getsource(Fetcher.__init__), \
        "Fetcher no longer keeps fetch_max_wait_ms as _fetch_max_wait_ms"
    requests = inspect.getsource(Fetcher._get_actions_per_node)
    assert re.search(r"FetchRequest\(\s*self\._fetch_max_wait_ms,", requests), \
        "Fetcher's fetch requests no longer use _fetch_max_wait_ms"

    async def made() -> int:
        consumer = aiokafka.AIOKafkaConsumer(bootstrap_servers="127.0.0.1:1", fetch_max_wait_ms=1500)
        return consumer._fetch_max_wait_ms

    assert asyncio.run(made()) == 1500, "AIOKafkaConsumer no longer keeps _fetch_max_wait_ms"
