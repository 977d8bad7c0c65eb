"""Job stats: for every run a worker ends, per queue and method, the runs, failures, total duration,
wait before start and a histogram of durations, added up by minute and by hour.

Sidekiq 7's metrics are the model: counters in a Redis hash per minute, written with no read, so
recording costs one round trip a run, one script call (``record``, ``lua/stats_record.lua``) and reading costs one hash per minute
or hour read, whatever the queues hold. Minutes are kept ``MINUTES_KEPT`` (72 h), hours
``HOURS_KEPT``; a Frappe site rolls hours up into its Jobkit Job Stat records for longer. The
lifetime totals (``totals``) are Prometheus' counters and histogram (``health.metrics``).

Who records: a Frappe site's ``before_job``/``after_job`` hooks (every job the site runs, jobkit's or
not, on any worker); the plain-RQ host's runs of jobkit jobs, in ``runner``. ``begin`` notes a run's
start in its process, ``failed`` marks it (an attempt that failed and is retried ends its run as a
failure even though RQ sees it succeed), ``end`` writes it.

Each run also goes into its method's list of recent runs (``recent``), which the Jobs page's search
by method reads, and the method into the namespace's set of methods.

Fields of a hash: ``{queue}|{method}|{counter}``; counters: ``r`` runs, ``f`` failures, ``d``
milliseconds run, ``w`` milliseconds waited before the start, ``b{i}`` runs of up to
``BUCKETS_MS[i]`` ms (the last: longer).

``JOBKIT_STATS=off`` in a worker's environment (read once, at import) records nothing in it: for a
bench that wants no stats, and for measuring what recording costs (``benchmarks/stats_overhead.py``).
"""

import bisect
import os
import time
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, timedelta, timezone
from typing import NamedTuple

from jobkit.engine import keys, scripts
from jobkit.engine.rqcompat import text

MINUTES_KEPT = 72 * 3600  # seconds a minute's hash lives
HOURS_KEPT = 8 * 24 * 3600  # an hour's: long enough for a rollup missed over a long weekend
RECENT_KEPT = 200  # runs kept per method for search
RECENT_SECONDS = 72 * 3600
# Upper bounds of the duration histogram, in ms (Prometheus' `le`); runs longer fall in the last.
BUCKETS_MS = (5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 900000, 3600000)
MINUTE, HOUR = "minute", "hour"
_LAYOUT = {MINUTE: "%Y%m%d%H%M", HOUR: "%Y%m%d%H"}
_STEP = {MINUTE: timedelta(minutes=1), HOUR: timedelta(hours=1)}
# A read over more buckets than this is refused: ask for hours, or a shorter range.
MAX_BUCKETS = 4 * 24 * 60


# Plain classes, not dataclasses: a stock `bench worker` imports this module afresh in each job's
# work-horse, where building a dataclass costs more than the run's whole record.
class Started:
	"""A run begun in this process: what ``end`` needs to record it."""

	__slots__ = ("at", "failed", "queue", "wait_ms")

	def __init__(self, queue: str, wait_ms: float):
		self.queue, self.wait_ms, self.at, self.failed = queue, wait_ms, time.monotonic(), False


_current: Started | None = None
ENABLED = os.environ.get("JOBKIT_STATS", "on").strip().lower() not in ("off", "0", "false", "no")


def begin(queue: str, enqueued_at: datetime | None, started_at: datetime | None) -> Started | None:
	"""Note the start of this process's run (RQ's naive-UTC ``enqueued_at``/``started_at``)."""
	global _current
	if not ENABLED:
		return None
	wait = 0.0
	if enqueued_at is not None and started_at is not None:
		wait = max((_naive_utc(started_at) - _naive_utc(enqueued_at)).total_seconds() * 1000, 0.0)
	_current = Started(queue=queue, wait_ms=wait)
	return _current


def begin_rq_job(rq_job, queue: str | None = None) -> Started | None:
	"""``begin`` for ``rq_job``, counted under ``queue`` (the host's name for it), else its origin."""
	return begin(queue or rq_job.origin, rq_job.enqueued_at, rq_job.started_at or _utcnow())


def failed() -> None:
	"""Mark this process's run failed (no-op outside one)."""
	if _current is not None:
		_current.failed = True


def end(connection, namespace: str, method: str, rq_id: str | None, *, failed: bool = False, also=None):
	"""Record the run ``begin`` noted, as failed if ``failed`` or marked so; None if none was begun,
	else the replies of the round trip (``also(pipe)`` queues more commands in it: theirs come last)."""
	global _current
	run, _current = _current, None
	if run is None:
		return None
	duration = (time.monotonic() - run.at) * 1000
	return record(
		connection, namespace, run.queue, method, duration, run.wait_ms, failed or run.failed, rq_id,
		also=also,
	)  # fmt: skip


def ending(namespace: str, method: str, rq_id: str | None, *, failed: bool = False):
	"""``end`` for a caller with a round trip to make at the run's end anyway: the run ``begin`` noted,
	as a function that queues its record on a pipeline (run by ``scripts.execute_with``, naming
	``scripts.STATS_RECORD``; it may be called again if the round trip is), or None if none was begun."""
	global _current
	run, _current = _current, None
	if run is None:
		return None
	duration = (time.monotonic() - run.at) * 1000
	script_keys, args = _record_call(
		namespace, run.queue, method, duration, run.wait_ms, failed or run.failed, rq_id, time.time()
	)
	return lambda pipe: scripts.STATS_RECORD.on(pipe, script_keys, args)


def record(
	connection, namespace, queue, method, duration_ms, wait_ms, failed, rq_id=None, *, at=None, also=None
):
	"""Add one run to its minute, its hour and the totals (and its method's recent runs), in one
	script call; ``also(pipe)`` queues more commands in the same round trip (safe to run twice: a
	server that does not know the script yet runs the round trip again). The replies."""
	script_keys, args = _record_call(
		namespace, queue, method, duration_ms, wait_ms, failed, rq_id, time.time() if at is None else at
	)
	if also is None:  # one command: no pipeline to build (a forked work-horse pays for every object)
		return [scripts.STATS_RECORD(connection, script_keys, args)]

	def fill(pipe):
		scripts.STATS_RECORD.on(pipe, script_keys, args)
		also(pipe)

	return scripts.execute_with(connection, fill, scripts.STATS_RECORD)


def _record_call(namespace, queue, method, duration_ms, wait_ms, failed, rq_id, now) -> tuple[list, list]:
	"""The keys and arguments of ``lua/stats_record.lua`` for one run."""
	moment = datetime.fromtimestamp(now, timezone.utc)
	counts = [("r", 1), ("d", round(duration_ms)), ("w", round(wait_ms)), (f"b{bucket_of(duration_ms)}", 1)]
	if failed:
		counts.append(("f", 1))
	script_keys = [
		keys.stats(namespace, MINUTE, moment.strftime(_LAYOUT[MINUTE])),
		keys.stats(namespace, HOUR, moment.strftime(_LAYOUT[HOUR])),
		keys.stats_totals(namespace),
		keys.recent_runs(namespace, method),
		keys.stats_methods(namespace),
	]
	args = [
		f"{queue}|{method}|",
		MINUTES_KEPT,
		HOURS_KEPT,
		RECENT_KEPT,
		RECENT_SECONDS,
		rq_id or "",
		now,
		method,
	]
	for counter, amount in counts:
		args += [counter, amount]
	return script_keys, args


def bucket_of(duration_ms: float) -> int:
	return bisect.bisect_left(BUCKETS_MS, duration_ms)


class Figures:
	"""Runs added up (one minute or hour of one queue and method, or any sum of them)."""

	__slots__ = ("buckets", "duration_ms", "failures", "runs", "wait_ms")

	def __init__(self, runs=0, failures=0, duration_ms=0, wait_ms=0, buckets: list[int] | None = None):
		self.runs, self.failures, self.duration_ms, self.wait_ms = runs, failures, duration_ms, wait_ms
		self.buckets = buckets if buckets is not None else [0] * (len(BUCKETS_MS) + 1)

	def __eq__(self, other) -> bool:
		return isinstance(other, Figures) and all(
			getattr(self, a) == getattr(other, a) for a in self.__slots__
		)

	def __repr__(self) -> str:
		return f"Figures(runs={self.runs}, failures={self.failures}, duration_ms={self.duration_ms})"

	def add(self, other: "Figures") -> "Figures":
		self.runs += other.runs
		self.failures += other.failures
		self.duration_ms += other.duration_ms
		self.wait_ms += other.wait_ms
		self.buckets = [a + b for a, b in zip(self.buckets, other.buckets, strict=True)]
		return self

	def percentile_ms(self, share: float) -> float | None:
		"""The duration ``share`` (0-1) of the runs stayed within, read off the histogram: linear
		within its bucket, the bucket's lower bound for runs past the last one."""
		if not self.runs:
			return None
		rank, seen = share * self.runs, 0
		for index, count in enumerate(self.buckets):
			if count and seen + count >= rank:
				low = BUCKETS_MS[index - 1] if index else 0
				if index == len(BUCKETS_MS):
					return float(low)
				return low + (BUCKETS_MS[index] - low) * (rank - seen) / count
			seen += count
		return float(BUCKETS_MS[-1])

	def as_dict(self) -> dict:
		runs = self.runs
		return {
			"runs": runs,
			"failures": self.failures,
			"failure_rate": round(self.failures / runs, 4) if runs else None,
			"total_seconds": round(self.duration_ms / 1000, 3),
			"mean_ms": round(self.duration_ms / runs, 1) if runs else None,
			"p50_ms": _rounded(self.percentile_ms(0.5)),
			"p95_ms": _rounded(self.percentile_ms(0.95)),
			"mean_wait_ms": round(self.wait_ms / runs, 1) if runs else None,
		}


class Bucket(NamedTuple):
	"""One queue and method's figures for one minute or hour (``at``: its start, aware UTC)."""

	at: datetime
	queue: str
	method: str
	figures: Figures


def read(
	connection, namespace: str, since: datetime, until: datetime, resolution: str = MINUTE
) -> list[Bucket]:
	"""Every queue and method's figures in each minute (or hour) from ``since`` to ``until``
	(aware datetimes; both included), in one pipelined round trip."""
	moments = span(since, until, resolution)
	pipe = connection.pipeline(transaction=False)
	for moment in moments:
		pipe.hgetall(keys.stats(namespace, resolution, moment.strftime(_LAYOUT[resolution])))
	out = []
	for moment, fields in zip(moments, pipe.execute(), strict=True):
		for (queue, method), figures in parse(fields).items():
			out.append(Bucket(moment, queue, method, figures))
	return out


def span(since: datetime, until: datetime, resolution: str) -> list[datetime]:
	"""The starts of the minutes (or hours) from ``since`` to ``until``, in UTC."""
	from jobkit.engine.errors import InvalidArgument

	if resolution not in _STEP:
		raise InvalidArgument(f"resolution must be {MINUTE!r} or {HOUR!r}, not {resolution!r}")
	if since.tzinfo is None or until.tzinfo is None:
		raise InvalidArgument("since and until must be aware datetimes (with a tzinfo)")
	step = _STEP[resolution]
	first = truncate(since.astimezone(timezone.utc), resolution)
	count = int((until - first) / step) + 1 if until >= first else 0
	if count > MAX_BUCKETS:
		raise InvalidArgument(
			f"{count} {resolution}s asked for, more than {MAX_BUCKETS}: read hours, or a shorter range"
		)
	return [first + i * step for i in range(count)]


def truncate(moment: datetime, resolution: str) -> datetime:
	moment = moment.replace(second=0, microsecond=0)
	return moment.replace(minute=0) if resolution == HOUR else moment


def parse(fields: dict) -> dict[tuple[str, str], Figures]:
	"""A stats hash's fields, as figures by (queue, method)."""
	out: dict[tuple[str, str], Figures] = defaultdict(Figures)
	for raw_field, raw_value in fields.items():
		name = text(raw_field)
		queue, _, rest = name.partition("|")
		method, _, counter = rest.rpartition("|")
		figures, value = out[queue, method], int(raw_value)
		if counter == "r":
			figures.runs += value
		elif counter == "f":
			figures.failures += value
		elif counter == "d":
			figures.duration_ms += value
		elif counter == "w":
			figures.wait_ms += value
		elif counter.startswith("b") and counter[1:].isdigit() and int(counter[1:]) < len(figures.buckets):
			figures.buckets[int(counter[1:])] += value
	return dict(out)


def totals(connection, namespace: str) -> dict[tuple[str, str], Figures]:
	"""Every queue and method's figures since stats were first recorded (Prometheus' counters)."""
	return parse(connection.hgetall(keys.stats_totals(namespace)))


def sum_by(buckets: Iterable[Bucket], *by: str) -> dict[tuple, Figures]:
	"""The buckets' figures added up by the named ``Bucket`` attributes ("at", "queue", "method")."""
	out: dict[tuple, Figures] = defaultdict(Figures)
	for bucket in buckets:
		out[tuple(getattr(bucket, name) for name in by)].add(bucket.figures)
	return dict(out)


def summary(
	connection,
	namespace: str,
	since: datetime,
	until: datetime,
	resolution: str = MINUTE,
	*,
	queue: str | None = None,
	method: str | None = None,
) -> dict:
	"""The figures of ``since`` to ``until``: per queue and method (busiest by total time first), per
	queue, and as a series per minute (or hour) for charts; ``queue``/``method`` narrow them."""
	buckets = [
		b
		for b in read(connection, namespace, since, until, resolution)
		if (queue is None or b.queue == queue) and (method is None or b.method == method)
	]
	moments = span(since, until, resolution)
	by_moment = sum_by(buckets, "at")
	by_method = sum_by(buckets, "queue", "method")
	total = Figures()
	for figures in by_method.values():
		total.add(figures)
	return {
		"since": moments[0].isoformat() if moments else None,
		"until": until.astimezone(timezone.utc).isoformat(),
		"resolution": resolution,
		"total": total.as_dict(),
		"methods": sorted(
			({"queue": q, "method": m, **f.as_dict()} for (q, m), f in by_method.items()),
			key=lambda row: (-row["total_seconds"], -row["runs"], row["method"]),
		),
		"queues": {q: f.as_dict() for (q,), f in sorted(sum_by(buckets, "queue").items())},
		"series": [
			{"at": moment.isoformat(), **by_moment.get((moment,), Figures()).as_dict()} for moment in moments
		],
	}


def methods(connection, namespace: str, contains: str = "", limit: int = 50) -> list[str]:
	"""Methods that ran in the last ``RECENT_SECONDS``, most recent first; ``contains``: a part of
	their dotted path (case-insensitive)."""
	since = time.time() - RECENT_SECONDS
	names = [m.decode() for m in connection.zrevrangebyscore(keys.stats_methods(namespace), "+inf", since)]
	needle = contains.lower()
	return [name for name in names if needle in name.lower()][:limit]


def recent(connection, namespace: str, method: str, limit: int = 50) -> list[tuple[str, float]]:
	"""The RQ ids of ``method``'s latest ended runs with the Unix time each ended, latest first."""
	entries = connection.zrevrange(keys.recent_runs(namespace, method), 0, limit - 1, withscores=True)
	return [(rq_id.decode(), score) for rq_id, score in entries]


def _rounded(value: float | None) -> float | None:
	return None if value is None else round(value, 1)


def _utcnow() -> datetime:
	return datetime.now(timezone.utc).replace(tzinfo=None)


def _naive_utc(moment: datetime) -> datetime:
	"""RQ's times: naive UTC on rq 1.x, aware on some 2.x releases."""
	return moment.astimezone(timezone.utc).replace(tzinfo=None) if moment.tzinfo else moment
