"""Prometheus metrics. One registry per runtime, so tests can build several apps.

docs/operations.md lists every family and the alert rules built on them
(deploy/kubernetes/base/prometheusrule.yaml)."""

from __future__ import annotations

import platform
from collections.abc import Callable, Iterator

from prometheus_client import (
    GC_COLLECTOR,
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    Info,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from bot.audit_metrics import DomainCounters

# Slack's budget for an ack is 3 s; the buckets are dense below it.
ACK_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0)


class _JobsCollector(Collector):
    """Jobs by state, read from the database at scrape time (the table is the truth)."""

    def __init__(self, counts: Callable[[], dict[str, int]]) -> None:
        self._counts = counts

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "shipbot_jobs", "Jobs in the jobs table by state", labels=["state"]
        )
        for state, count in sorted(self._counts().items()):
            family.add_metric([state], count)
        yield family


class Metrics:
    def __init__(self, *, version: str = "unknown") -> None:
        self.registry = CollectorRegistry()
        # process_* (CPU, memory, open files, start time), python_gc_*, python_info: the
        # default collectors read process-wide facts, so each registry may share them.
        for collector in (PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR):
            self.registry.register(collector)
        Info("shipbot_build", "The running shipbot release", registry=self.registry).info(
            {"version": version, "python": platform.python_version()}
        )
        self.http_requests = Counter(
            "shipbot_http_requests",
            "HTTP requests served",
            ["route", "status"],
            registry=self.registry,
        )
        self.ack_seconds = Histogram(
            "shipbot_slack_ack_seconds",
            "Time from receiving a Slack request to answering it",
            ["kind"],
            buckets=ACK_BUCKETS,
            registry=self.registry,
        )
        self.slack_api_calls = Counter(
            "shipbot_slack_api_calls",
            "Slack Web API calls by method and HTTP status",
            ["method", "status"],
            registry=self.registry,
        )
        self.jobs_finished = Counter(
            "shipbot_jobs_finished",
            "Jobs that left the worker, by kind and resulting state",
            ["kind", "state"],
            registry=self.registry,
        )
        self.job_seconds = Histogram(
            "shipbot_job_seconds", "Job run time", ["kind"], registry=self.registry
        )
        self.domain = DomainCounters(self.registry)
        self._socket_mode: tuple[Gauge, Counter] | None = None

    def socket_mode(self) -> tuple[Gauge, Counter]:
        """The Socket Mode gauge and reconnect counter, registered on first use: a bot in
        HTTP mode exports neither, so "socket down" alerts never fire for it."""
        if self._socket_mode is None:
            connected = Gauge(
                "shipbot_socket_mode_connected",
                "1 while the Socket Mode WebSocket to Slack is open, else 0",
                registry=self.registry,
            )
            reconnects = Counter(
                "shipbot_socket_mode_reconnects",
                "Socket Mode connections opened after the first one",
                registry=self.registry,
            )
            self._socket_mode = (connected, reconnects)
        return self._socket_mode

    def watch_jobs(self, counts: Callable[[], dict[str, int]]) -> None:
        self.registry.register(_JobsCollector(counts))

    def on_job_finished(self, kind: str, state: str, seconds: float) -> None:
        self.jobs_finished.labels(kind=kind, state=state).inc()
        self.job_seconds.labels(kind=kind).observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)
