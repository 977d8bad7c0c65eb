"""Checking scheduled targets: what a scheduler would trip on, found before it runs.

The host lists the entries (Frappe: every app's ``scheduler_events``, each event mapped to its
cron expression and queue); this module reports, per entry, its errors and warnings and its next
run times. Errors are what makes an entry fail or silently never run; warnings are what makes it
run badly.
"""

import inspect
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from croniter import croniter

from jobkit.engine import methods
from jobkit.engine.errors import InvalidMethod
from jobkit.engine.findings import CRITICAL, WARNING, Finding
from jobkit.engine.jobfunction import LIGHT_ATTRIBUTE, JobFunction

NEXT_RUNS = 3
# Words in a target's name that suggest more than a quick check (for entries run on every tick).
HEAVY_WORDS = (
	"sync",
	"import",
	"export",
	"report",
	"rebuild",
	"recalculate",
	"repost",
	"backup",
	"process",
	"generate",
	"send",
	"fetch",
	"pull",
	"push",
	"update_all",
	"reindex",
)
# Events that run on every scheduler tick.
EVERY_TICK_EVENTS = ("all",)


@dataclass
class EntryReport:
	app: str
	event: str
	cron: str
	method: str
	queue: str
	timeout: int | None
	handed_off: bool = False
	next_runs: list[datetime] = field(default_factory=list)
	findings: list[Finding] = field(default_factory=list)

	@property
	def ok(self) -> bool:
		return not any(finding.severity == CRITICAL for finding in self.findings)


def check(entries, *, now: datetime, queue_timeouts: dict[str, int]) -> list[EntryReport]:
	"""Report on each entry: (app, event, cron expression or None, method, queue) tuples.

	``now`` (tz-aware, the site's zone) starts the next run times; ``queue_timeouts`` are the
	queues' default job timeouts.
	"""
	reports = [
		EntryReport(app, event, cron, method, queue, queue_timeouts.get(queue))
		for app, event, cron, method, queue in entries
	]
	where: dict[str, list[EntryReport]] = defaultdict(list)
	for report in reports:
		where[report.method].append(report)
		_check_cron(report, now)
		_check_target(report, queue_timeouts)
	for method, places in where.items():
		if len(places) > 1:
			listed = "; ".join(f"{place.app}: {place.event} {place.cron}" for place in places)
			for place in places:
				place.findings.append(
					Finding(
						CRITICAL,
						"duplicate",
						f"{method} is registered {len(places)} times ({listed}); the scheduler keeps one "
						"Scheduled Job Type per method, so only one of these schedules runs. Keep one entry",
					)
				)
	return reports


def _check_cron(report: EntryReport, now: datetime) -> None:
	if not report.cron:
		report.findings.append(
			Finding(
				CRITICAL,
				"unknown_event",
				f"{report.event!r} is not a scheduler event of this Frappe: use all, hourly, daily, "
				"weekly, monthly, yearly (each also as *_long), hourly_maintenance or daily_maintenance "
				"(Frappe v16) or a cron entry",
			)
		)
		return
	if not croniter.is_valid(report.cron):
		report.findings.append(
			Finding(
				CRITICAL,
				"invalid_cron",
				f"{report.cron!r} is not a valid cron expression: use five fields, "
				"minute hour day-of-month month day-of-week (e.g. '30 2 * * 1-5')",
			)
		)
		return
	runs = croniter(report.cron, now)
	report.next_runs = [runs.get_next(datetime) for _ in range(NEXT_RUNS)]


def _check_target(report: EntryReport, queue_timeouts: dict[str, int]) -> None:
	try:
		target = methods.resolve(report.method)
	except InvalidMethod as e:
		report.findings.append(Finding(CRITICAL, "import", str(e)))
		return
	function = target.fn if isinstance(target, JobFunction) else target
	required = _required_arguments(function)
	if required:
		report.findings.append(
			Finding(
				CRITICAL,
				"arguments",
				f"{report.method} requires {', '.join(required)}, but the scheduler calls it with no "
				"arguments: give them defaults, or schedule a function that takes none",
			)
		)
	if isinstance(target, JobFunction):
		report.handed_off = True
		report.queue = target.options.get("queue", "default")
		report.timeout = target.options.get("timeout") or queue_timeouts.get(report.queue)
		return
	if getattr(target, LIGHT_ATTRIBUTE, False):
		return  # declared quick by its author (@jobkit.light)
	name = report.method.rsplit(".", 1)[-1].lower()
	if report.event in EVERY_TICK_EVENTS and any(word in name for word in HEAVY_WORDS):
		report.findings.append(
			Finding(
				WARNING,
				"heavy_all",
				f"{report.method} looks heavy for '{report.event}', which runs on every scheduler tick in "
				f"the {report.queue!r} queue: schedule it with a cron entry, and hand it off with "
				"@jobkit.job(queue='long', timeout=...)",
			)
		)
	if report.event == "cron":
		report.findings.append(
			Finding(
				WARNING,
				"default_timeout",
				f"{report.method} runs in the {report.queue!r} queue with its {report.timeout} s timeout, "
				"which kills longer runs: decorate it with @jobkit.job(queue='long', timeout=...) to hand "
				"each run off to its own queue and timeout, without overlap",
			)
		)


def _required_arguments(function) -> list[str]:
	try:
		parameters = inspect.signature(function).parameters.values()
	except (TypeError, ValueError):  # a builtin without a signature: nothing to tell
		return []
	return [
		parameter.name
		for parameter in parameters
		if parameter.default is inspect.Parameter.empty
		and parameter.kind not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
	]
