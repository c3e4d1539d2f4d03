"""``callfloor topics create|describe``: the topics as README 'Deployment and scaling' documents."""

from __future__ import annotations

import argparse
import sys

import orjson

from schemas.settings import load_settings
from streams.kafka_config import KafkaAccessError
from streams.topics import (
    CDR_RETENTION_DAYS,
    DLQ_RETENTION_DAYS,
    TopicsError,
    admin_client,
    create_topics,
    describe_topics,
    planned_topics,
    replication_factor,
    topic_names,
)


def run_topics(args: argparse.Namespace) -> int:
    settings = load_settings()
    try:
        with admin_client(settings) as admin:
            if args.action == "describe":
                described = describe_topics(admin, topic_names(settings))
                print(orjson.dumps(described, option=orjson.OPT_INDENT_2).decode())
                return 0
            replication = replication_factor(admin, settings, args.replication_factor)
            specs = planned_topics(settings, replication, args.retention_days, args.dlq_retention_days)
            for line in create_topics(admin, specs):
                print(line)
            return 0
    except TopicsError as exc:
        print(f"callfloor topics: {exc}", file=sys.stderr)
        return 2
    except KafkaAccessError as exc:
        print(f"callfloor topics: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # noqa: BLE001 - the broker: say which and why, not a traceback
        print(f"callfloor topics: cannot reach Kafka at {settings.kafka_bootstrap}: {exc}", file=sys.stderr)
        return 1


def add_topics_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("topics", help="create or describe the pipeline's topics (idempotent)")
    p.add_argument("action", choices=("create", "describe"))
    p.add_argument("--replication-factor", type=int,
                   help="default: CALLFLOOR_KAFKA_REPLICATION_FACTOR, else min(3, brokers up)")  # fmt: skip
    p.add_argument("--retention-days", type=float, default=CDR_RETENTION_DAYS, help="CDR topic retention")
    p.add_argument("--dlq-retention-days", type=float, default=DLQ_RETENTION_DAYS, help="DLQ retention")
    p.set_defaults(func=run_topics)
