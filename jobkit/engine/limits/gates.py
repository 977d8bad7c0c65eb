"""The gates a limited job passes before it enters its queue: admission, start, release and the
gates' timer, each one Lua script (``lua/gate_*.lua``; what a gate keeps: ``gate_common.lua``).

Why at the queue's door, not in the worker: a job over its limit is in no RQ queue, so it holds no
worker and no worker needs to know about limits (a stock ``bench worker`` honours them too). A job
is let in when every one of its gates is open, taking a place on each:

- a concurrency gate (``Limit``, a fair share) keeps the place from admission to the run's end
  (``release``, or the reaper when the run's process died), so no more than n runs are ever
  queued-or-running at once;
- a rate gate (``Rate``) keeps it from admission to the run's start, when it becomes a start that
  counts for ``per`` seconds. Admission needs starts-in-window + admitted-not-started < n, so at
  every moment the last ``per`` seconds hold at most n starts: a sliding window, exact (a token
  bucket or a fixed window lets up to 2n through across a boundary, which is what a remote API's
  own window punishes).

A waiting job is let in as soon as a place frees: by the run that ends (``release``), or, for a
rate window that moves on by itself, by the timer (``tick``), which also promotes delayed gated
jobs and ends the jobs that waited past their bound. The timer runs in every jobkit worker (a
thread, ``Timer``), in the plain-RQ promoter, and in the Frappe scheduler's per-minute entry.
Every decision reads the Redis server's clock.
"""

import json
import logging
import threading
import time

from jobkit.engine import keys, rqcompat, rqjob
from jobkit.engine.limits import rules
from jobkit.engine.scripts import Script

logger = logging.getLogger("jobkit")

GATE_PUSH = Script("gate_push", uses=("packed", "gate_common"))
GATE_ADMIT = Script("gate_admit", uses=("gate_common",))
GATE_START = Script("gate_start", uses=("gate_common",))
GATE_RELEASE = Script("gate_release", uses=("gate_common",))
GATE_TICK = Script("gate_tick", uses=("gate_common",))
GATE_FORGET = Script("gate_forget", uses=("gate_common",))

# The gates' own keys (lua/gate_common.lua; not namespaced: a fair share spans the sites of a bench).
GATE = "jobkit:gate:{gate_id}"
GATES = "jobkit:gates"
WAKE = "jobkit:gates:wake"
DEADLINES = "jobkit:gates:deadlines"
LATER = "jobkit:gates:later"
EXPIRED = "jobkit:{namespace}:gates:expired"
# RQ's key prefixes, as the gate scripts spell them.
RQ_JOB_PREFIX, RQ_QUEUE_PREFIX, RQ_QUEUES = "rq:job:", "rq:queue:", "rq:queues"

# How long a held entry goes before it is looked at again (REVIEW in gate_common.lua).
REVIEW_SECONDS = 60
# Jobs let in per gate by one release, and entries of each kind per timer pass.
LET_IN_PER_RELEASE = 10
TICK_LIMIT = 200
# The timer looks at least this often, and no more often than the minimum.
TIMER_MAX_SECONDS = 1.0
TIMER_MIN_SECONDS = 0.005

# Fields of a gated job's RQ hash (read by the gate scripts).
GATES_FIELD = "jobkit_gates"
NAMESPACE_FIELD = "jobkit_ns"
WAIT_UNTIL_FIELD = "jobkit_wait_until"
WAITING_ON_FIELD = "jobkit_waiting_on"
WAITING_SINCE_FIELD = "jobkit_waiting_since"

# push's answers.
QUEUED, WAITING, SCHEDULED = 1, 0, 2


def hash_fields(envelope) -> dict:
	"""What a gated job's RQ hash carries for its gates."""
	fields = {GATES_FIELD: json.dumps(envelope["gates"]), NAMESPACE_FIELD: envelope.namespace}
	max_wait = envelope.get("max_wait")
	if max_wait:
		fields[WAIT_UNTIL_FIELD] = repr(time.time() + max_wait)
	return fields


def push(connection, rq_queue, job, envelope, *, due: float | None = None, at_front: bool = False) -> int:
	"""Write a gated job and pass it through its gates in one script call: QUEUED, WAITING (on a
	closed gate, in no queue) or SCHEDULED (due later: the timer passes it through its gates then)."""
	return GATE_PUSH(
		connection,
		[job.key],
		[
			rqjob.packed(
				job,
				rq_queue,
				job.id,
				"" if due is None else repr(due),
				"front" if at_front else "back",
				rqcompat.now_stamp(),
				scheduled=due is not None,
				extra=hash_fields(envelope),
			)
		],
	)


def admit(connection, rq_id: str) -> int:
	"""Pass a gated job that ``claim.lua`` wrote into the gates' schedule through its gates now."""
	return int(GATE_ADMIT(connection, [RQ_JOB_PREFIX + rq_id], [rq_id, rqcompat.now_stamp()]))


def run_now(connection, rq_id: str) -> bool:
	"""Pass the gated job ``rq_id`` waiting in the gates' schedule (delayed, or a retry) through its
	gates now; False if it is no longer there. Through the same step as the timer's (``admit``), so
	a timer passing at the same moment never lets it in twice."""
	return admit(connection, rq_id) >= 0


def take_back(connection, rq_id: str) -> bool:
	"""Remove the gated job ``rq_id`` from the gates' schedule before it is due; True if this call did
	(the removal is the claim, as ``delayed.take_back``)."""
	return bool(connection.zrem(LATER, rq_id))


def started(connection, envelope, rq_id: str) -> None:
	"""The run of a gated job starts (its rate places become starts)."""
	missing = GATE_START(connection, [], [rq_id, json.dumps(envelope["gates"])])
	if missing:
		logger.warning(
			"jobkit: %s (%s) started without a place on %s of its gates: it was queued by a path "
			"that does not pass them, or its place was freed early",
			rq_id,
			envelope.method,
			missing,
		)


def release(connection, envelope, rq_id: str) -> int:
	"""The run of a gated job ended (or was reaped): free its places and let waiting jobs in."""
	return int(
		GATE_RELEASE(
			connection,
			[],
			[rq_id, json.dumps(envelope["gates"]), rqcompat.now_stamp(), LET_IN_PER_RELEASE],
		)
	)


def release_quietly(connection, envelope, rq_id: str) -> None:
	"""``release``, where the run's outcome is already written: a failure here is reported, and the
	places are freed by the timer's review instead (within ``REVIEW_SECONDS``)."""
	try:
		release(connection, envelope, rq_id)
	except Exception:
		logger.exception("jobkit: could not free the gates of %s; the timer's review will", rq_id)


class Tick:
	"""What one timer pass did."""

	__slots__ = ("expired", "let_in", "next_in", "promoted")

	def __init__(self, promoted: int, expired: int, let_in: int, next_in: float | None):
		self.promoted, self.expired, self.let_in, self.next_in = promoted, expired, let_in, next_in

	def __bool__(self) -> bool:
		return bool(self.promoted or self.expired or self.let_in)

	def __repr__(self) -> str:
		return f"<gates tick promoted={self.promoted} expired={self.expired} let_in={self.let_in}>"


def tick(connection, limit: int = TICK_LIMIT) -> Tick:
	"""One pass of the gates' timer (see ``lua/gate_tick.lua``)."""
	promoted, expired, let_in, next_in = GATE_TICK(connection, [], [rqcompat.now_stamp(), limit])
	seconds = float(next_in)
	return Tick(int(promoted), int(expired), int(let_in), None if seconds < 0 else seconds)


def expired_ids(connection, namespace: str) -> list[str]:
	"""The RQ ids of the host's jobs that waited past their bound and are not yet recorded."""
	return [rqcompat.text(rq_id) for rq_id in connection.lrange(_expired(namespace), 0, TICK_LIMIT - 1)]


def forget_expired(connection, namespace: str, rq_id: str) -> None:
	connection.lrem(_expired(namespace), 1, rq_id)


def _expired(namespace: str) -> str:
	return EXPIRED.format(namespace=keys.validate_namespace(namespace))


class Timer(threading.Thread):
	"""The gates' timer in a long-running process (a jobkit worker): a pass when something is due,
	at least every ``TIMER_MAX_SECONDS``. Daemon: it ends with its process, and a forked work-horse
	does not inherit it."""

	def __init__(self, connection, stop: threading.Event | None = None):
		super().__init__(name="jobkit-gates", daemon=True)
		self.connection = connection
		self.stop = stop or threading.Event()

	def run(self) -> None:
		while not self.stop.is_set():
			wait = TIMER_MAX_SECONDS
			try:
				done = tick(self.connection)
				if done.next_in is not None:
					wait = min(wait, max(done.next_in, TIMER_MIN_SECONDS))
			except Exception:
				# A Redis restart or a network blip must not end the timer; the next pass retries.
				logger.debug("jobkit: gates timer pass failed", exc_info=True)
			self.stop.wait(wait)


def state(connection, namespace: str | None = None) -> list[dict]:
	"""Every gate in use (of ``namespace``, when given; idle ones are dropped from the list), with
	its places taken (running, or let in and not yet started), its starts in the window (rate
	gates), its waiting jobs and the oldest one's wait start (Unix time)."""
	gates = {rqcompat.text(k): json.loads(v) for k, v in connection.hgetall(GATES).items()}
	if namespace is not None:
		gates = {k: v for k, v in gates.items() if rules.parse_gate_id(k)[1] == namespace}
	if not gates:
		return []
	ids = sorted(gates)
	now = time.time()
	pipe = connection.pipeline(transaction=False)
	for gate_id in ids:
		base = GATE.format(gate_id=gate_id)
		pipe.zcard(f"{base}:held")
		pipe.zcount(f"{base}:starts", now - (gates[gate_id][2] or 0), "+inf")
		pipe.llen(f"{base}:waiting")
		pipe.lindex(f"{base}:waiting", 0)
	replies = pipe.execute()
	heads = [replies[i * 4 + 3] for i in range(len(ids))]
	pipe = connection.pipeline(transaction=False)
	for head in heads:
		pipe.hget(RQ_JOB_PREFIX + rqcompat.text(head), WAITING_SINCE_FIELD) if head else pipe.echo("")
	since = pipe.execute()
	found, idle = [], []
	for i, gate_id in enumerate(ids):
		gate = gates[gate_id]
		held, starts, waiting = replies[i * 4], replies[i * 4 + 1], replies[i * 4 + 2]
		if not (held or starts or waiting):
			idle.append(gate_id)  # a key seen once and done with: the list of gates stays short
			continue
		kind, namespace, key = rules.parse_gate_id(gate_id)
		oldest = float(since[i]) if since[i] else None
		found.append(
			{
				"gate": gate_id,
				"kind": kind,
				"namespace": namespace,
				"key": key,
				"n": gate[1],
				"per": gate[2],
				"held": held,
				"starts": starts if kind == "r" else None,
				"waiting": waiting,
				"oldest_waiting_since": oldest,
				"oldest_wait_seconds": None if oldest is None else max(0.0, now - oldest),
			}
		)
	if idle:
		GATE_FORGET(connection, [], idle)
	return found


__all__ = [
	"Tick",
	"Timer",
	"admit",
	"expired_ids",
	"forget_expired",
	"hash_fields",
	"push",
	"release",
	"release_quietly",
	"run_now",
	"started",
	"state",
	"take_back",
	"tick",
]
