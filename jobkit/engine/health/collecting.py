"""Job health: what the queues, workers and Redis look like now, and what is wrong with them.

``collect(host)`` reads a fixed number of things per queue, whatever its length: the queue's
length and its oldest job (one hash field), the workers that listen to it, the started jobs
whose worker stopped reporting (a bounded range of the started registry), failures of the last
hour (a count over a score range), delayed jobs past due (a count); then the unique keys whose
job is gone (a bounded scan) and Redis itself (round trip, memory, eviction policy). It never
lists or fetches all job ids. ``Report.verdict`` is the worst finding's severity.
"""

import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone

from jobkit.engine import keys, pausing, unique
from jobkit.engine.findings import CRITICAL, OK, SEVERITY_ORDER, WARNING, Finding, worst
from jobkit.engine.host import Host
from jobkit.engine.limits import gates, rules
from jobkit.engine.rqcompat import started_registry_job_id, unix_time

# A queue Redis with one of these policies deletes keys when memory is full: jobs, locks, state.
EVICTING_POLICIES = ("allkeys-lru", "allkeys-lfu", "allkeys-random", "volatile-lru", "volatile-lfu",
	"volatile-random", "volatile-ttl")  # fmt: skip
# Jobs named in a finding, at most (the count is exact).
SAMPLE = 5
# Started jobs read from a registry, at most (the stuck count is exact, from ZCOUNT).
STUCK_READ_LIMIT = 100
# The keyspace scan for unique keys: calls per collection, and keys each call looks at.
UNIQUE_SCAN_CALLS = 1
UNIQUE_SCAN_COUNT = 150


@dataclass(frozen=True)
class Thresholds:
	"""When a reading becomes a finding (seconds, counts). Defaults suit a typical bench."""

	wait_warning: float = 300
	wait_critical: float = 1800
	pending_warning: int = 1000
	pending_critical: int = 10000
	failed_last_hour_warning: int = 10
	failed_last_hour_critical: int = 100
	heartbeat_stale_after: float = 480  # rq's worker_ttl (420 s) and a minute
	stuck_after_timeout: float = 60  # a started job this long past its timeout is not being stopped
	delayed_overdue_after: float = 120  # a promoter passes every minute
	round_trip_warning_ms: float = 50
	memory_warning_share: float = 0.8
	limit_wait_warning: float = 600  # the oldest job waiting at a limit (jobkit.Limit, jobkit.Rate)
	limit_wait_critical: float = 3600


@dataclass(frozen=True)
class QueueHealth:
	name: str
	pending: int
	oldest_wait_seconds: float | None
	workers: int
	busy: int
	idle: int
	stale: int
	stuck: int
	failed_last_hour: int
	delayed_overdue: int
	paused: bool = False


@dataclass(frozen=True)
class LimitHealth:
	"""One key's limit (``limits``): places taken (running, or let in and not started), starts in the
	window (a rate), jobs waiting and the oldest one's wait."""

	kind: str
	key: str
	description: str
	held: int
	starts: int | None
	waiting: int
	oldest_wait_seconds: float | None


@dataclass(frozen=True)
class RedisHealth:
	round_trip_ms: float
	used_memory: int
	max_memory: int
	eviction_policy: str


@dataclass
class Report:
	verdict: str
	findings: list[Finding]
	queues: list[QueueHealth]
	redis: RedisHealth
	orphaned_unique_keys: int
	collected_at: float
	duration_ms: float
	limits: list[LimitHealth] = field(default_factory=list)

	def as_dict(self) -> dict:
		return asdict(self)

	def add(self, findings: list[Finding]) -> None:
		"""More findings (a host's own checks): kept worst first, and the verdict follows them."""
		self.findings = sorted([*self.findings, *findings], key=lambda f: -SEVERITY_ORDER[f.severity])
		self.verdict = worst(self.findings)


def collect(host: Host, thresholds: Thresholds | None = None) -> Report:
	"""A health report of ``host``'s queues, workers and Redis (see the module's docstring)."""
	thresholds = thresholds or Thresholds()
	started = time.perf_counter()
	now = time.time()
	connection = host.connection
	findings: list[Finding] = []
	redis_health = _redis(connection, findings, thresholds)
	workers = _workers(connection)
	failure_ttl = int(host.job_options().get("failure_ttl") or 0)
	queues = []
	for name in host.queue_timeouts():
		health, queue_findings = _queue(
			connection, name, host.rq_queue(name), workers, now, failure_ttl, thresholds
		)
		queues.append(health)
		findings.extend(queue_findings)
	orphans = _orphaned_unique_keys(connection, host.namespace, findings)
	limits = _limits(connection, host.namespace, findings, thresholds)
	report = Report(
		verdict=OK,
		findings=[],
		queues=queues,
		redis=redis_health,
		orphaned_unique_keys=orphans,
		collected_at=now,
		duration_ms=round((time.perf_counter() - started) * 1000, 2),
		limits=limits,
	)
	report.add(findings)
	return report


def _limits(connection, namespace: str, findings: list[Finding], thresholds: Thresholds) -> list[LimitHealth]:
	"""The namespace's limits in use, and a finding for each whose oldest waiting job waited too long."""
	found = []
	for gate in gates.state(connection, namespace):  # the gates in use
		health = LimitHealth(
			kind=gate["kind"],
			key=gate["key"],
			description=rules.describe(gate["gate"], gate["n"], gate["per"]),
			held=gate["held"],
			starts=gate["starts"],
			waiting=gate["waiting"],
			oldest_wait_seconds=gate["oldest_wait_seconds"],
		)
		found.append(health)
		wait = health.oldest_wait_seconds or 0
		level, _ = _past((thresholds.limit_wait_critical, thresholds.limit_wait_warning), wait)
		if level:
			findings.append(
				Finding(
					level,
					"limit_wait",
					f"{health.waiting} job(s) wait at the limit {health.description}, the oldest for "
					f"{wait:.0f} s: raise the limit if the key allows it, add workers to its queue if its "
					"places are all running, or look for runs that hold them (Jobs page, Running)",
				)
			)
	return found


def _redis(connection, findings: list[Finding], thresholds: Thresholds) -> RedisHealth:
	started = time.perf_counter()
	connection.ping()
	round_trip_ms = round((time.perf_counter() - started) * 1000, 3)
	memory = connection.info("memory")
	used, maximum = int(memory.get("used_memory", 0)), int(memory.get("maxmemory", 0))
	policy = str(memory.get("maxmemory_policy", "noeviction"))
	if policy in EVICTING_POLICIES:
		findings.append(
			Finding(
				CRITICAL,
				"redis_eviction",
				f"the queue Redis evicts keys when its memory is full (maxmemory-policy {policy}): jobs, "
				"unique keys and locks can vanish. Set maxmemory-policy noeviction on it.",
			)
		)
	if maximum and used > thresholds.memory_warning_share * maximum:
		findings.append(
			Finding(WARNING, "redis_memory", f"the queue Redis uses {used:,} of {maximum:,} bytes of memory")
		)
	if round_trip_ms > thresholds.round_trip_warning_ms:
		findings.append(Finding(WARNING, "redis_latency", f"a Redis round trip took {round_trip_ms} ms"))
	return RedisHealth(round_trip_ms, used, maximum, policy)


def _workers(connection) -> list:
	from rq.worker import Worker

	return Worker.all(connection=connection)


@dataclass(frozen=True)
class _Reading:
	"""What one queue's two round trips read."""

	pending: int
	oldest_wait: float | None
	stuck_ids: list[str]
	failed_last_hour: int
	delayed_overdue: int
	paused: bool


def _queue(connection, name: str, rq_queue, workers: list, now: float, failure_ttl: int, thresholds):
	"""One queue's health (``name``: the host's name for it), and its findings."""
	reading = _read_queue(connection, rq_queue, now, failure_ttl, thresholds)
	listening = [worker for worker in workers if rq_queue.name in worker.queue_names()]
	stale = [w for w in listening if now - _heartbeat(w) > thresholds.heartbeat_stale_after]
	busy = [w for w in listening if w not in stale and _state(w) == "busy"]
	idle = [w for w in listening if w not in stale and w not in busy]
	health = QueueHealth(
		name=name,
		pending=reading.pending,
		oldest_wait_seconds=round(reading.oldest_wait, 1) if reading.oldest_wait is not None else None,
		workers=len(listening),
		busy=len(busy),
		idle=len(idle),
		stale=len(stale),
		stuck=len(reading.stuck_ids),
		failed_last_hour=reading.failed_last_hour,
		delayed_overdue=reading.delayed_overdue,
		paused=reading.paused,
	)
	findings = _queue_findings(health, reading, [w.name for w in stale], thresholds)
	if reading.paused:
		findings.extend(_pause_findings(connection, health, [*busy, *idle]))
	return health, findings


def _read_queue(connection, rq_queue, now: float, failure_ttl: int, thresholds: Thresholds) -> _Reading:
	"""A fixed number of reads, whatever the queue's length: its length and oldest job, its started
	jobs (as many as there are work-horses), failures of the last hour, delayed jobs past due."""
	from rq.job import Job
	from rq.registry import FailedJobRegistry, ScheduledJobRegistry, StartedJobRegistry

	started_key = StartedJobRegistry(queue=rq_queue).key
	pipe = connection.pipeline(transaction=False)
	pipe.llen(rq_queue.key)
	pipe.lindex(rq_queue.key, 0)  # RQ pushes at the tail and pops at the head: the oldest
	# Started jobs: as many as there are running work-horses (and dead ones), not the queue's length.
	pipe.zrange(started_key, 0, STUCK_READ_LIMIT - 1, withscores=True)
	pipe.zcount(FailedJobRegistry(queue=rq_queue).key, now + failure_ttl - 3600, "+inf")
	pipe.zcount(ScheduledJobRegistry(queue=rq_queue).key, 0, now - thresholds.delayed_overdue_after)
	pipe.sismember(keys.PAUSED, rq_queue.key)
	pending, oldest_id, started, failed_last_hour, delayed_overdue, paused = pipe.execute()
	pipe = connection.pipeline(transaction=False)
	if oldest_id is not None:
		pipe.hget(Job.key_for(oldest_id.decode()), "enqueued_at")
	started = [(started_registry_job_id(entry.decode()), score) for entry, score in started]
	for job_id, _ in started:
		pipe.hmget(Job.key_for(job_id), ["started_at", "timeout"])
	replies = pipe.execute()
	oldest_wait = None
	if oldest_id is not None:
		enqueued_at = replies.pop(0)
		if enqueued_at:
			oldest_wait = max(now - _timestamp(enqueued_at.decode()), 0.0)
	stuck_ids = []
	for (job_id, score), (started_at, timeout) in zip(started, replies, strict=True):
		# Its worker stopped renewing its entry, or it runs well past its timeout unstopped.
		overdue = bool(started_at and timeout) and (
			now - _timestamp(started_at.decode()) > float(timeout) + thresholds.stuck_after_timeout
		)
		if score < now or overdue:
			stuck_ids.append(job_id)
	return _Reading(pending, oldest_wait, stuck_ids, failed_last_hour, delayed_overdue, bool(paused))


def _queue_findings(health: QueueHealth, reading: _Reading, stale: list[str], thresholds: Thresholds):
	name, pending, findings = health.name, health.pending, []
	live = health.busy + health.idle
	if not live:
		message = (
			f"{pending} job(s) wait on {name} and no live worker listens to it: start one "
			f"(bench worker --queue {name}, or the bench's supervisor/systemd workers)"
			if pending
			else f"no live worker listens to {name}: its next job will wait until one starts"
		)
		findings.append(Finding(CRITICAL, "no_worker", message, name))
	if stale:
		message = f"{len(stale)} worker(s) on {name} stopped sending heartbeats: " + ", ".join(stale[:SAMPLE])
		findings.append(Finding(WARNING, "stale_worker", message, name))
	level, limit = _past((thresholds.pending_critical, thresholds.pending_warning), pending)
	if level and not reading.paused:
		findings.append(Finding(level, "queue_depth", f"{pending} jobs wait on {name} (limit {limit})", name))
	level, limit = _past((thresholds.wait_critical, thresholds.wait_warning), reading.oldest_wait)
	if level and not reading.paused:
		message = f"the oldest job on {name} has waited {reading.oldest_wait:.0f} s (limit {limit:.0f} s)"
		findings.append(Finding(level, "queue_wait", message, name))
	if reading.stuck_ids:
		findings.append(
			Finding(
				CRITICAL,
				"stuck_job",
				f"{health.stuck} started job(s) on {name} stopped reporting (their worker died, or they run "
				f"past their timeout with nobody to stop them): {', '.join(reading.stuck_ids[:SAMPLE])}",
				name,
			)
		)
	failed = health.failed_last_hour
	level, limit = _past((thresholds.failed_last_hour_critical, thresholds.failed_last_hour_warning), failed)
	if level:
		findings.append(Finding(level, "failures", f"{failed} jobs failed on {name} in the last hour", name))
	if health.delayed_overdue:
		message = (
			f"{health.delayed_overdue} delayed job(s) on {name} are past due and not promoted: is the "
			"scheduler (or `python -m jobkit.engine.promoter`) running?"
		)
		findings.append(Finding(WARNING, "delayed_overdue", message, name))
	return findings


def _pause_findings(connection, health: QueueHealth, live: list) -> list[Finding]:
	"""A paused queue is not a fault (its waiting jobs are what the pause is for); a live worker on it
	that does not honour the pause is: it goes on starting the queue's jobs."""
	findings = [
		Finding(
			OK,
			"paused",
			f"{health.name} is paused: jobkit's workers start none of its {health.pending} waiting job(s) "
			f"until it is resumed (jobkit.resume_queue({health.name!r}))",
			health.name,
		)
	]
	unaware = pausing.ignoring(connection, live)
	if unaware:
		message = (
			f"{len(unaware)} worker(s) on paused {health.name} do not honour the pause and go on starting "
			f"its jobs (stock RQ workers such as `bench worker`; run `bench jobkit-worker`): "
			+ ", ".join(unaware[:SAMPLE])
		)
		findings.append(Finding(WARNING, "paused_ignored", message, health.name))
	return findings


def _past(limits: tuple, value) -> tuple[str | None, object]:
	"""(CRITICAL, its limit) or (WARNING, its limit) for a value at or past one, else (None, None);
	``limits``: (critical, warning)."""
	if value is not None:
		for level, limit in zip((CRITICAL, WARNING), limits, strict=True):
			if value >= limit:
				return level, limit
	return None, None


def _orphaned_unique_keys(connection, namespace: str, findings: list[Finding]) -> int:
	"""Unique keys whose holder job is gone or ended, among the keys this collection looks at.

	Redis has no index of them: each collection goes on scanning the keyspace where the last one
	stopped (the cursor is kept in Redis), UNIQUE_SCAN_CALLS calls of UNIQUE_SCAN_COUNT keys, so
	its cost stays flat however many jobs are queued, and successive snapshots sweep every key.
	"""
	from rq.job import Job

	cursor_key = keys.health_scan_cursor(namespace)
	cursor = int(connection.get(cursor_key) or 0)
	candidates = []
	for _ in range(UNIQUE_SCAN_CALLS):
		cursor, found = connection.scan(cursor, match=keys.unique(namespace, "*"), count=UNIQUE_SCAN_COUNT)
		candidates.extend(key.decode() for key in found)
		if cursor == 0:
			break
	connection.set(cursor_key, cursor, ex=7 * 24 * 3600)
	if not candidates:
		return 0
	pipe = connection.pipeline(transaction=False)
	for key in candidates:
		pipe.get(key)
	holders = pipe.execute()
	pipe = connection.pipeline(transaction=False)
	held = [(key, holder.decode()) for key, holder in zip(candidates, holders, strict=True) if holder]
	for _, holder in held:
		pipe.hget(Job.key_for(holder), "status")
	statuses = pipe.execute()
	orphans = [
		key.rsplit(":unique:", 1)[-1]
		for (key, _), status in zip(held, statuses, strict=True)
		if status is None or status.decode() in unique.ENDED_STATUSES
	]
	if orphans:
		findings.append(
			Finding(
				WARNING,
				"orphaned_unique_key",
				f"{len(orphans)} unique key(s) are held for jobs that are gone: "
				+ ", ".join(orphans[:SAMPLE])
				+ " (they free themselves at their TTL; `bench --site S jobkit unlock JOB_ID` frees one now)",
			)
		)
	return len(orphans)


def _state(worker) -> str:
	state = worker.get_state() if hasattr(worker, "get_state") else worker.state
	return getattr(state, "value", state)


def _heartbeat(worker) -> float:
	"""The worker's last heartbeat as a Unix time (0 for none)."""
	return unix_time(worker.last_heartbeat) or 0.0


def _timestamp(text: str) -> float:
	"""RQ's utcformat ('2026-11-30T07:30:00.123456Z') as a Unix time."""
	text = text.rstrip("Z")
	layout = "%Y-%m-%dT%H:%M:%S.%f" if "." in text else "%Y-%m-%dT%H:%M:%S"
	return datetime.strptime(text, layout).replace(tzinfo=timezone.utc).timestamp()
