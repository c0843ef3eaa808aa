"""Prometheus metrics of one ``lstmkit serve`` app, in its own :class:`CollectorRegistry`.

=============================================== =========== ============================================
name                                            type        meaning
=============================================== =========== ============================================
``lstmkit_serve_events_total``                  counter     events answered (applied, or a repeat)
``lstmkit_serve_requests_total``                counter     HTTP answers, labels ``route`` and ``status``
``lstmkit_serve_request_duration_seconds``      histogram   time from request to answer, label ``route``
``lstmkit_serve_active_streams``                gauge       streams kept in the store (read on scrape)
``lstmkit_serve_store_errors_total``            counter     store failures (answered 503)
``lstmkit_serve_batch_events``                  histogram   events per engine call
``lstmkit_serve_batch_requests``                histogram   requests per engine call
``lstmkit_serve_step_seconds``                  histogram   duration of one engine call (step + save)
=============================================== =========== ============================================

A per-app registry keeps two apps in one process (tests) apart; the labelled children are created
once and cached, so a request pays two dictionary look-ups and two locked additions.
"""

from __future__ import annotations

import math
from typing import Any, Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
BATCH_EVENT_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768)
BATCH_REQUEST_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)
STEP_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)

ROUTES = ("events", "stream", "reset", "model", "healthz", "readyz", "metrics", "docs", "other")


class Metrics:
    """The metrics of one app. ``count_streams`` is called on each scrape (in a worker thread); a
    failure there counts as a store error and shows the gauge as NaN."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self, count_streams: Callable[[], int] | None = None) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.events = Counter("lstmkit_serve_events", "Events answered (applied, or a repeat of the last seq).",
                              registry=r)
        self.requests = Counter("lstmkit_serve_requests", "HTTP requests answered, by route and status code.",
                                ["route", "status"], registry=r)
        self.latency = Histogram("lstmkit_serve_request_duration_seconds",
                                 "Seconds from the request reaching the app to its answer, by route.", ["route"],
                                 buckets=LATENCY_BUCKETS, registry=r)
        self.active_streams = Gauge("lstmkit_serve_active_streams", "Streams kept in the store (read on scrape).",
                                    registry=r)
        self.store_errors = Counter("lstmkit_serve_store_errors", "Store failures (requests answered 503).",
                                    registry=r)
        self.batch_events = Histogram("lstmkit_serve_batch_events", "Events per engine call (all requests of a batch).",
                                      buckets=BATCH_EVENT_BUCKETS, registry=r)
        self.batch_requests = Histogram("lstmkit_serve_batch_requests", "Requests per engine call.",
                                        buckets=BATCH_REQUEST_BUCKETS, registry=r)
        self.step_seconds = Histogram("lstmkit_serve_step_seconds", "Seconds of one engine call (step and store write).",
                                      buckets=STEP_BUCKETS, registry=r)
        self._latency = {route: self.latency.labels(route) for route in ROUTES}
        self._answers: dict[tuple[str, int], Any] = {}
        self._count_streams = count_streams
        self.active_streams.set_function(self._streams)

    def _streams(self) -> float:
        if self._count_streams is None:
            return math.nan
        try:
            return float(self._count_streams())
        except Exception:  # the store is down: the scrape still answers
            self.store_errors.inc()
            return math.nan

    def answered(self, route: str, status: int, seconds: float) -> None:
        """One HTTP answer: its route (one of :data:`ROUTES`), status code and duration."""
        child = self._answers.get((route, status))
        if child is None:
            child = self._answers[(route, status)] = self.requests.labels(route, str(status))
        child.inc()
        self._latency[route].observe(seconds)

    def batch(self, requests: int, events: int, seconds: float) -> None:
        """One engine call."""
        self.batch_requests.observe(requests)
        self.batch_events.observe(events)
        self.step_seconds.observe(seconds)

    def render(self) -> bytes:
        """The text exposition format (reads the store's stream count: call it off the event loop)."""
        return generate_latest(self.registry)


__all__ = ["Metrics", "ROUTES"]
