"""Prometheus series (`streamchat_*`) for operators: what runs, how fast it answers, what fails.

Nothing here runs per token: an answer is counted once when it starts and once when its task ends
(tokens from the usage the model reported). The registry is this instance's own, so tests and
several apps in one process do not share counts.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from services.errors import failure_kind
from services.models import Status

if TYPE_CHECKING:
    from services.generation import Generation

CONTENT_TYPE = CONTENT_TYPE_LATEST
TTFT_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0)
DURATION_BUCKETS = (0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 40.0, 80.0, 160.0, 320.0, 600.0)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.active = Gauge("streamchat_active_generations", "Answers being generated now", registry=r)
        self.ttft = Histogram(
            "streamchat_time_to_first_token_seconds", "From start to the first token", buckets=TTFT_BUCKETS, registry=r
        )
        self.duration = Histogram(
            "streamchat_answer_duration_seconds", "From start to the end of the answer", buckets=DURATION_BUCKETS,
            registry=r,
        )  # fmt: skip
        self.answers = Counter("streamchat_answers", "Answers ended, by final status", ["status"], registry=r)
        self.tokens = Counter("streamchat_tokens", "Tokens the model reported, by kind", ["kind"], registry=r)
        self.upstream_errors = Counter(
            "streamchat_upstream_errors", "Answers that failed upstream, by kind", ["kind"], registry=r
        )
        self.stops = Counter("streamchat_stops", "Answers stopped by a user", registry=r)
        self.refusals = Counter("streamchat_limit_refusals", "Starts refused by a per-user limit", registry=r)
        self.clients = Gauge("streamchat_websocket_clients", "Browser tabs connected", registry=r)

    def track(self, gen: Generation) -> None:
        """Counts the answer as active until its task ends, then records how it went."""
        if gen.task is None or gen.task.done():
            return
        self.active.inc()
        gen.task.add_done_callback(lambda _t: self._ended(gen))

    def _ended(self, gen: Generation) -> None:
        self.active.dec()
        self.duration.observe(max(0.0, time.time() - gen.started_at))
        if gen.first_token_at is not None:
            self.ttft.observe(max(0.0, gen.first_token_at - gen.started_at))
        if gen.ending is not None:
            self.tokens.labels("prompt").inc(gen.ending.prompt_tokens or 0)
            self.tokens.labels("completion").inc(gen.ending.completion_tokens or 0)
        status = gen.publisher.status
        if status is not None:
            self.answers.labels(status.value).inc()
        if status == Status.STOPPED:
            self.stops.inc()
        if gen.error is not None:
            self.upstream_errors.labels(failure_kind(gen.error)).inc()

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
