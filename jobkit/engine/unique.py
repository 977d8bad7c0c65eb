"""Unique jobs: lock types, conflict strategies, and the atomic claim-and-enqueue.

Lock types (when the key is released):
- ``until_executing``: when a worker starts the job;
- ``until_executed``: when the job ends, successfully or not (the default with a ``job_id``);
- ``while_executing``: never held at enqueue; many may queue, and one runs at a time;
- ``until_expired``: at the end of ``unique_ttl``, whatever happens.

Conflict strategies (a call whose key is held): ``skip`` returns a handle to the holder,
``raise`` raises ``DuplicateJob``, ``replace`` gives the holder the latest call's arguments
while it still waits in the queue (its place is kept; once started, ``replace`` acts as skip).

Every key is owned by the RQ id of the job holding it (a fresh id per enqueue), is released
only by compare-and-delete, and has a TTL: ``timeout + QUEUE_WAIT_ALLOWANCE`` while queued, the
lease while running (renewed by the runner), ``unique_ttl`` when given. A held key whose job is
gone or has ended is taken over by the next claim at once.
"""

import os
import threading
import time
from collections import OrderedDict
from contextlib import contextmanager
from dataclasses import dataclass

from jobkit.engine import keys, rqjob
from jobkit.engine.errors import InvalidArgument
from jobkit.engine.lease import LeaseKeeper
from jobkit.engine.limits import gates
from jobkit.engine.numbers import is_number, whole_seconds
from jobkit.engine.rqcompat import text
from jobkit.engine.scripts import ACQUIRE, CLAIM, RELEASE, WHO_HOLDS

UNTIL_EXECUTING = "until_executing"
UNTIL_EXECUTED = "until_executed"
WHILE_EXECUTING = "while_executing"
UNTIL_EXPIRED = "until_expired"
LOCK_TYPES = (UNTIL_EXECUTING, UNTIL_EXECUTED, WHILE_EXECUTING, UNTIL_EXPIRED)

SKIP = "skip"
RAISE = "raise"
REPLACE = "replace"
CONFLICT_STRATEGIES = (SKIP, RAISE, REPLACE)

# How long a unique job may wait in its queue (on top of its timeout) before its key expires.
QUEUE_WAIT_ALLOWANCE = 3600
# Separates the logical id from the per-enqueue token in RQ ids.
TOKEN_SEPARATOR = "#"

# The claim script's mode that takes a key over from the job holding it, followed by its RQ id.
HANDOVER = "handover:"

CLAIMED, HELD, REPLACED = 1, 0, 2
ENDED_STATUSES = ("finished", "failed", "stopped", "canceled")
LIVE_STATUSES = ("queued", "started", "deferred", "scheduled")


@dataclass(frozen=True)
class UniquePolicy:
	lock: str
	on_conflict: str
	ttl: int
	lease: float

	def envelope(self, key: str) -> dict:
		return {"lock": self.lock, "key": key, "lease": self.lease, "ttl": self.ttl}


def policy(
	job_id: str | None, unique: object, on_conflict: object, unique_ttl: object, timeout: int, lease: float
) -> UniquePolicy | None:
	"""Validate the unique arguments of an enqueue; None when the job is not unique."""
	if unique is None:
		unique = UNTIL_EXECUTED if job_id is not None else False
	if unique is False:
		if on_conflict is not None or unique_ttl is not None:
			raise InvalidArgument(
				"on_conflict and unique_ttl need a unique lock: pass job_id=... (and unique=...)"
			)
		return None
	if unique not in LOCK_TYPES:
		raise InvalidArgument(f"unique={unique!r} is not a lock type: use one of {', '.join(LOCK_TYPES)}")
	if job_id is None:
		raise InvalidArgument(f"unique={unique!r} needs a job_id: the key that makes the job unique")
	if on_conflict is None:
		on_conflict = SKIP
	elif on_conflict not in CONFLICT_STRATEGIES:
		raise InvalidArgument(
			f"on_conflict={on_conflict!r} is not a conflict strategy: use one of {', '.join(CONFLICT_STRATEGIES)}"
		)
	if unique == WHILE_EXECUTING and on_conflict != SKIP:
		raise InvalidArgument(
			"unique='while_executing' lets every call queue (one runs at a time): on_conflict does not apply"
		)
	if unique_ttl is None:
		ttl = timeout if unique == UNTIL_EXPIRED else timeout + QUEUE_WAIT_ALLOWANCE
	elif not is_number(unique_ttl) or unique_ttl <= 0:
		raise InvalidArgument(f"unique_ttl must be a positive number of seconds, not {unique_ttl!r}")
	else:
		ttl = whole_seconds(unique_ttl)
	return UniquePolicy(unique, on_conflict, ttl, lease)


def fresh_rq_id(base_rq_id: str) -> str:
	"""The host's RQ id for a job id, plus a token of its own: one per enqueue."""
	return f"{base_rq_id}{TOKEN_SEPARATOR}{os.urandom(6).hex()}"


def claim_and_enqueue(
	connection,
	rq_queue,
	job,
	key: str,
	policy: UniquePolicy,
	at_front: bool,
	due: float | None = None,
	handover_from: str | None = None,
	gated_envelope=None,
) -> tuple[int, str]:
	"""Write ``job`` and claim ``key`` for it in one script call; return (outcome, holder's RQ id).

	With ``due`` (Unix time) the job waits in RQ's scheduled registry until promoted. With
	``handover_from`` (an RQ id), a key held by that job passes to this one (a retry's next attempt).
	``gated_envelope``: the job has gates (``limits``); it is written into the gates' schedule
	(due now, when no ``due``), for ``gates.admit`` (or the gates' timer) to pass it through them.
	"""
	from rq.registry import ScheduledJobRegistry

	if handover_from is not None:
		mode = HANDOVER + handover_from
	else:
		mode = REPLACE if policy.on_conflict == REPLACE else "claim"
	extra = None
	if gated_envelope is not None:
		waits_in, placement = gates.LATER, repr(time.time() if due is None else due)
		extra = gates.hash_fields(gated_envelope)
	elif due is None:
		waits_in, placement = rq_queue.key, "front" if at_front else "back"
	else:
		waits_in, placement = ScheduledJobRegistry(queue=rq_queue).key, repr(due)
	outcome, holder = CLAIM(
		connection,
		keys=[key, job.key, waits_in, rq_queue.redis_queues_keys, rq_queue.key],
		args=[
			rqjob.packed(
				job,
				rq_queue,
				job.id,
				policy.ttl * 1000,
				placement,
				"0" if policy.lock == UNTIL_EXPIRED else "1",
				mode,
				scheduled=due is not None or gated_envelope is not None,
				extra=extra,
			)
		],
	)
	return int(outcome), text(holder)


# Keys this process recently found held, so that the next call for the same key can be answered
# with one small read instead of a whole job written and deleted. A call for a key not in it
# (the common case: a new id) still costs one round trip. Bounded; oldest entries go first.
RECENTLY_HELD_MAX = 4096
_recently_held: OrderedDict[str, None] = OrderedDict()
_recently_held_lock = threading.Lock()


def remember_held(key: str) -> None:
	with _recently_held_lock:
		_recently_held[key] = None
		_recently_held.move_to_end(key)
		while len(_recently_held) > RECENTLY_HELD_MAX:
			_recently_held.popitem(last=False)


def forget_held(key: str) -> None:
	with _recently_held_lock:
		_recently_held.pop(key, None)


def still_held(connection, key: str, policy: UniquePolicy) -> tuple[str, str] | None:
	"""(holder, status) when ``key`` was recently held and still is; None means: claim it."""
	if key not in _recently_held:
		return None
	held = WHO_HOLDS(connection, [key], ["rq:job:", "0" if policy.lock == UNTIL_EXPIRED else "1"])
	if not held:
		forget_held(key)
		return None
	holder, status = map(text, held)
	return holder, status


def holder_of(connection, key: str) -> str | None:
	holder = connection.get(key)
	return holder.decode() if holder is not None else None


def holder_status(connection, holder: str) -> str | None:
	from rq.job import Job

	status = connection.hget(Job.key_for(holder), "status")
	return status.decode() if status is not None else None


def key_for(namespace: str, job_id: str, lock: str) -> str:
	return keys.running(namespace, job_id) if lock == WHILE_EXECUTING else keys.unique(namespace, job_id)


# Runner side ------------------------------------------------------------------------------

# How often a `while_executing` job polls for the run lock while another run holds it.
RUN_LOCK_POLL_SECONDS = 0.05


@contextmanager
def held_while_running(connection, unique: dict | None, token: str | None):
	"""Apply a unique job's lock type around its run: release, keep under lease, or wait."""
	if not unique or token is None:
		yield
		return
	lock, key = unique["lock"], unique["key"]
	if lock == UNTIL_EXPIRED:
		yield
		return
	if lock == UNTIL_EXECUTING:
		RELEASE(connection, [key], [token])
		yield
		return
	if lock == WHILE_EXECUTING:
		_wait_for_run_lock(connection, key, token, unique["lease"])
	try:
		with LeaseKeeper(connection, key, token, unique["lease"]):
			yield
	finally:
		RELEASE(connection, [key], [token])


def _wait_for_run_lock(connection, key: str, token: str, lease: float) -> None:
	# Bounded by the job's own timeout: RQ stops a job that waits longer than it may run.
	lease_ms = max(1, int(lease * 1000))
	while not ACQUIRE(connection, [key], [token, lease_ms, "rq:job:"])[0]:
		time.sleep(RUN_LOCK_POLL_SECONDS)


# Inspection and repair ----------------------------------------------------------------------


def is_enqueued(connection, namespace: str, job_id: str, fixed_rq_id: str) -> bool:
	"""Whether a job with this logical id is waiting or running.

	A unique job is found through its key; a job enqueued with ``unique=False`` has the fixed
	RQ id ``fixed_rq_id`` (the host's id for ``job_id``).
	"""
	holders = [
		holder_of(connection, keys.unique(namespace, job_id)),
		holder_of(connection, keys.running(namespace, job_id)),
	]
	for rq_id in [*filter(None, holders), fixed_rq_id]:
		if holder_status(connection, rq_id) in LIVE_STATUSES:
			return True
	return False


def lock_info(connection, namespace: str, job_id: str) -> list[dict]:
	"""The keys held for a logical job id: which job holds each, its status, the TTL left."""
	found = []
	for kind, key in (
		("unique", keys.unique(namespace, job_id)),
		("running", keys.running(namespace, job_id)),
	):
		holder = holder_of(connection, key)
		if holder is None:
			continue
		status = holder_status(connection, holder)
		found.append(
			{
				"job_id": job_id,
				"kind": kind,
				"key": key,
				"holder": holder,
				"holder_status": status or "gone",
				"stale": status is None or status in ENDED_STATUSES,
				"ttl_seconds": max(connection.pttl(key), 0) / 1000,
			}
		)
	return found


def unlock(connection, namespace: str, job_id: str) -> list[str]:
	"""Delete the keys held for ``job_id`` (a manual repair); return the holders released."""
	released = []
	for key in (keys.unique(namespace, job_id), keys.running(namespace, job_id)):
		holder = holder_of(connection, key)
		if holder is not None and RELEASE(connection, [key], [holder]):
			released.append(holder)
	return released
