"""``enqueue``: validate everything first, then write one RQ job; nothing half-enqueued."""

import dataclasses
import time
from collections.abc import Callable
from uuid import uuid4

from jobkit.engine import defaults, delayed, methods, payload, rqjob, runner, unique
from jobkit.engine.errors import DuplicateJob, InvalidArgument, InvalidTimeout, UnknownQueue
from jobkit.engine.handle import JobHandle
from jobkit.engine.host import Host
from jobkit.engine.numbers import is_number, whole_seconds
from jobkit.engine.retry import Retry

# frappe.enqueue arguments that jobkit.enqueue does not take. Passed to jobkit they would
# otherwise be handed silently to the job as keyword arguments.
UNSUPPORTED_FRAPPE_ARGUMENTS = {
	"deduplicate": "jobkit deduplicates by job_id itself; drop deduplicate=",
	"is_async": "use now=True to run in this process",
	"async": "use now=True to run in this process",
	"event": "it only labels Frappe's scheduler jobs; drop it",
}

MAX_JOB_ID_LENGTH = 200

# ``user=`` of an enqueue that runs the job as whoever enqueues it (the host's current user).
CURRENT_USER = object()


def enqueue(
	host: Host,
	method: str | Callable,
	*,
	queue: str = "default",
	timeout: int | float | None = None,
	job_id: str | None = None,
	unique_lock: str | bool | None = None,
	on_conflict: str | None = None,
	unique_ttl: int | float | None = None,
	delay: int | float | None = None,
	at=None,
	retry=None,
	at_front: bool = False,
	enqueue_after_commit: bool = False,
	on_success: str | Callable | None = None,
	on_failure: str | Callable | None = None,
	now: bool = False,
	job_name: str | None = None,
	user: str | object | None = CURRENT_USER,
	kwargs: dict,
) -> JobHandle:
	for name, advice in UNSUPPORTED_FRAPPE_ARGUMENTS.items():
		if name in kwargs:
			raise InvalidArgument(f"jobkit.enqueue does not take {name!r} ({advice})")

	method_path = methods.dotted_path(method, check_import=host.check_methods)
	callbacks = {
		name: methods.dotted_path(callback, check_import=host.check_methods)
		for name, callback in (("on_success", on_success), ("on_failure", on_failure))
		if callback is not None
	}
	timeout = resolve_timeout(host, queue, timeout)
	retry_policy = Retry.coerce(retry)
	due = delayed.due_timestamp(delay, at, host.naive_timezone)
	if due is not None and now:
		raise InvalidArgument("now=True runs the job at once: drop delay= / at=, or now=True")
	policy = unique.policy(job_id, unique_lock, on_conflict, unique_ttl, timeout, host.lease_seconds)
	if policy and due is not None and unique_ttl is None:
		# The key must outlive the wait until the job is due, not just its run.
		policy = dataclasses.replace(policy, ttl=policy.ttl + whole_seconds(due - time.time()))
	if policy and policy.on_conflict == unique.RAISE and enqueue_after_commit:
		raise InvalidArgument(
			"on_conflict='raise' cannot be combined with enqueue_after_commit=True: the conflict is "
			"only known at commit, when nobody is left to catch the error. Use 'skip' or 'replace'"
		)
	job_id = validate_job_id(job_id)
	connection = host.connection  # once: a host may pay for each look-up (Frappe retries it)
	claims = policy is not None and policy.lock != unique.WHILE_EXECUTING
	if policy:
		key = unique.key_for(host.namespace, job_id, policy.lock)
	if claims and not now and not enqueue_after_commit and policy.on_conflict != unique.REPLACE:
		# Checked before the job is built: a call that will not be enqueued costs one small read.
		held = unique.still_held(connection, key, policy)
		if held:
			return _conflict(connection, job_id, policy, queue, method_path, *held, replaced=False)

	rq_id = host.rq_job_id(job_id)
	if policy:
		# A fresh RQ id per enqueue: reusing one id across runs lets RQ's finish handling of the
		# previous run overwrite the next one. The logical id lives in the unique key only.
		rq_id = unique.fresh_rq_id(rq_id)
	envelope = new_envelope(
		host,
		job_id,
		method_path,
		queue=queue,
		timeout=timeout,
		user=host.current_user() if user is CURRENT_USER else user,
		callbacks=callbacks,
		job_name=job_name,
		retry_policy=retry_policy,
		kwargs=kwargs,
	)
	if policy:
		envelope["unique"] = policy.envelope(key)

	if now:
		result = runner.execute(host, envelope, rq_job=None)
		return JobHandle(job_id, rq_id, queue, method_path, connection, status="finished", result=result)

	# After the look-up that answers a duplicate (a call that writes nothing is not refused), before
	# anything is written: a refused call leaves nothing behind.
	host.check_capacity(queue)
	rq_queue, job = rqjob.create(host, envelope, rq_id, scheduled=due is not None)
	payload.serialise(job, kwargs, host.max_payload_bytes, method_path)

	def push() -> tuple[int, str]:
		if claims:
			return unique.claim_and_enqueue(connection, rq_queue, job, key, policy, bool(at_front), due)
		if due is not None:
			rqjob.save_scheduled(connection, rq_queue, job, due)
		else:
			rq_queue.enqueue_job(job, at_front=bool(at_front))
		return unique.CLAIMED, rq_id

	if enqueue_after_commit:
		handle = JobHandle(job_id, rq_id, queue, method_path, connection, pending=True)

		def push_after_commit() -> None:
			# The conflict is only known now: point the caller's handle at the holder.
			outcome, holder = push()
			if outcome != unique.CLAIMED:
				unique.remember_held(key)
				handle.rq_id, handle.duplicate = holder, True
				handle.replaced = outcome == unique.REPLACED

		host.after_commit(push_after_commit)
		return handle
	outcome, holder = push()
	if outcome == unique.CLAIMED:
		if claims:
			unique.forget_held(key)
		return JobHandle(job_id, rq_id, queue, method_path, connection)
	unique.remember_held(key)
	status = None if policy.on_conflict != unique.RAISE else unique.holder_status(connection, holder)
	return _conflict(
		connection, job_id, policy, queue, method_path, holder, status, replaced=outcome == unique.REPLACED
	)


def new_envelope(
	host: Host,
	job_id: str,
	method_path: str,
	*,
	queue: str,
	timeout: int,
	user: str | None,
	callbacks: dict,
	job_name: str | None,
	retry_policy: Retry | None,
	kwargs: dict,
) -> dict:
	"""What the runner gets of a first attempt (arguments already validated)."""
	envelope = {
		"v": defaults.ENVELOPE_VERSION,
		"id": job_id,
		"method": method_path,
		"kwargs": kwargs,
		"ns": host.namespace,
		"queue": queue,
		"timeout": timeout,
		"user": user,
		"enqueued_at": time.time(),
		"attempt": 1,
		# The runner's in-flight lease: the enqueuing side's setting, which its reaper also reads.
		"lease": host.lease_seconds,
		**callbacks,
	}
	if job_name is not None:
		envelope["name"] = str(job_name)
	if retry_policy:
		envelope["retry"] = retry_policy.to_envelope()
	return envelope


def requeue(host: Host, job: dict) -> JobHandle:
	"""Enqueue a stored job again (a dead letter's): its method, queue, timeout, arguments, user,
	unique key, retry policy and callbacks, as a new first attempt that runs now.

	A unique job keeps its id, and a copy already holding the key raises ``DuplicateJob`` rather
	than being skipped silently; any other job gets a new id, so it is not confused with the RQ job
	of its failed run.
	"""
	held = job.get("unique")
	unique_options: dict = {"unique_lock": False}
	if held:
		unique_options = {"job_id": job["id"], "unique_lock": held["lock"], "unique_ttl": held["ttl"]}
		if held["lock"] != unique.WHILE_EXECUTING:  # the one lock type where every call may queue
			unique_options["on_conflict"] = unique.RAISE
	return enqueue(
		host,
		job["method"],
		queue=job["queue"],
		timeout=job["timeout"],
		**unique_options,
		retry=Retry.from_envelope(job["retry"]) if job.get("retry") else None,
		on_success=job.get("on_success"),
		on_failure=job.get("on_failure"),
		job_name=job.get("name"),
		user=job.get("user"),
		kwargs=job["kwargs"],
	)


def _conflict(connection, job_id, policy, queue, method_path, holder, status, *, replaced) -> JobHandle:
	if policy.on_conflict == unique.RAISE:
		raise DuplicateJob(
			f"job {job_id!r} is already {status or 'held'} (RQ job {holder}, lock {policy.lock!r}); "
			"pass on_conflict='skip' to get its handle instead",
			job_id,
			holder,
		)
	return JobHandle(job_id, holder, queue, method_path, connection, duplicate=True, replaced=replaced)


def resolve_timeout(host: Host, queue: object, timeout: object) -> int:
	"""The job timeout in seconds: the one given, else the queue's default."""
	queues = host.queue_timeouts()
	if not isinstance(queue, str) or queue not in queues:
		raise UnknownQueue(
			f"unknown queue {queue!r}: this site's workers listen to {', '.join(map(repr, queues))}. "
			"Use one of those, or declare the queue (Frappe: the 'workers' section of "
			"common_site_config.json; plain RQ: jobkit.configure(queues=...)) and start a worker for it"
		)
	if timeout is None:
		return int(queues[queue] or defaults.FALLBACK_TIMEOUT)
	if not is_number(timeout):
		raise InvalidTimeout(f"timeout must be a number of seconds, not {timeout!r}")
	if timeout <= 0:
		raise InvalidTimeout(
			f"timeout must be more than 0 seconds, not {timeout!r}; leave it out to use the "
			f"{queue!r} queue's default of {queues[queue]} s"
		)
	return whole_seconds(timeout)


def validate_job_id(job_id: object) -> str:
	if job_id is None:
		return uuid4().hex
	if not isinstance(job_id, str) or not job_id.strip():
		raise InvalidArgument(f"job_id must be a non-empty string, not {job_id!r}")
	if len(job_id) > MAX_JOB_ID_LENGTH:
		raise InvalidArgument(
			f"job_id is {len(job_id)} characters long; keep it to {MAX_JOB_ID_LENGTH} "
			"(e.g. 'sync-customer::' + the customer's name)"
		)
	return job_id
