"""Job health: ``collecting`` reads the queues, workers and Redis into a report with findings;
``metrics`` renders a report in Prometheus' text format."""

from jobkit.engine.findings import CRITICAL, OK, SEVERITY_ORDER, WARNING, Finding
from jobkit.engine.health.collecting import QueueHealth, RedisHealth, Report, Thresholds, collect

__all__ = [
	"CRITICAL",
	"OK",
	"SEVERITY_ORDER",
	"WARNING",
	"Finding",
	"QueueHealth",
	"RedisHealth",
	"Report",
	"Thresholds",
	"collect",
]
