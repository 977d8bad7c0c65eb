"""``enqueue``: validate everything first (``prepare``), then write one RQ job (``submit``); nothing
half-enqueued."""

import dataclasses
import os
import time
from collections.abc import Callable

from jobkit.engine import defaults, delayed, methods, payload, rqjob, unique
from jobkit.engine.envelope import Envelope
from jobkit.engine.errors import DuplicateJob, InvalidArgument, InvalidTimeout, UnknownQueue
from jobkit.engine.handle import JobHandle
from jobkit.engine.host import Host
from jobkit.engine.limits import gates, rules
from jobkit.engine.numbers import is_number, whole_seconds
from jobkit.engine.retries import Retry

# frappe.enqueue arguments that jobkit.enqueue does not take. Passed to jobkit they would
# otherwise be handed silently to the job as keyword arguments.
UNSUPPORTED_FRAPPE_ARGUMENTS = {
	"deduplicate": "jobkit deduplicates by job_id itself; drop deduplicate=",
	"event": "it only labels Frappe's scheduler jobs; drop it",
}

MAX_JOB_ID_LENGTH = 200

# ``user=`` of an enqueue that runs the job as whoever enqueues it (the host's current user).
CURRENT_USER = object()


@dataclasses.dataclass
class Call:
	"""An accepted call, validated and built, not yet written: ``submit`` writes it; ``now=True`` runs
	its envelope here instead (``runner.run_now``)."""

	host: Host
	envelope: Envelope
	job_id: str
	rq_id: str
	queue: str
	method_path: str
	policy: unique.UniquePolicy | None
	key: str | None
	claims: bool
	due: float | None
	at_front: bool
	after_commit: bool

	def handle(self, **state) -> JobHandle:
		return JobHandle(self.job_id, self.rq_id, self.queue, self.method_path, self.host.connection, **state)


def enqueue(host: Host, method: str | Callable, **options) -> JobHandle:
	"""Validate everything, then write one RQ job (``prepare``, then ``submit``)."""
	call = prepare(host, method, **options)
	return call if isinstance(call, JobHandle) else submit(call)


def prepare(
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
	concurrency=None,
	rate=None,
	kwargs: dict,
) -> "Call | JobHandle":
	"""The call, checked and built; or, for a unique job whose key a copy holds, that copy's handle
	(the duplicate answer, found before anything is built)."""
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
	job_gates, max_wait = _gates(host, method_path, queue, kwargs, concurrency, rate, now)
	retry_policy = Retry.coerce(retry)
	due = delayed.due_timestamp(delay, at, host.naive_timezone)
	if due is not None and now:
		raise InvalidArgument(
			"now=True (or is_async=False) runs the job at once: drop delay= / at=, or run it in a worker"
		)
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
	claims = policy is not None and policy.lock != unique.WHILE_EXECUTING
	key = unique.key_for(host.namespace, job_id, policy.lock) if policy else None
	if claims and not now and not enqueue_after_commit and policy.on_conflict != unique.REPLACE:
		# Checked before the job is built: a call that will not be enqueued costs one small read.
		connection = host.connection
		held = unique.still_held(connection, key, policy)
		if held:
			return _conflict(connection, job_id, policy, queue, method_path, *held, replaced=False)

	rq_id = host.rq_job_id(job_id)
	if policy:
		# A fresh RQ id per enqueue: reusing one id across runs lets RQ's finish handling of the
		# previous run overwrite the next one. The logical id lives in the unique key only.
		rq_id = unique.fresh_rq_id(rq_id)
	envelope = Envelope.new(
		job_id=job_id,
		method=method_path,
		kwargs=kwargs,
		namespace=host.namespace,
		queue=queue,
		timeout=timeout,
		user=host.current_user() if user is CURRENT_USER else user,
		lease=host.lease_seconds,
		callbacks=callbacks,
		name=job_name,
		retry=retry_policy.to_envelope() if retry_policy else None,
	)
	if policy:
		envelope["unique"] = policy.envelope(key)
	if job_gates:
		envelope["gates"] = job_gates
		if max_wait is not None:
			envelope["max_wait"] = max_wait
	return Call(
		host, envelope, job_id, rq_id, queue, method_path, policy, key, claims, due, bool(at_front),
		bool(enqueue_after_commit),
	)  # fmt: skip


def submit(call: Call) -> JobHandle:
	"""Write the call's RQ job (after the caller's commit, where it asked): its handle, or the handle
	of the copy that holds its unique key."""
	host, policy, key, claims, due = call.host, call.policy, call.key, call.claims, call.due
	# After the look-up that answers a duplicate (a call that writes nothing is not refused), before
	# anything is written: a refused call leaves nothing behind.
	host.check_capacity(call.queue)
	connection = host.connection  # once: a host may pay for each look-up (Frappe retries it)
	rq_queue, job = rqjob.create(host, call.envelope, call.rq_id, scheduled=due is not None)
	payload.serialise(job, call.envelope.kwargs, host.max_payload_bytes, call.method_path)

	gated = bool(call.envelope.get("gates"))

	def push() -> tuple[int, str]:
		if claims:
			outcome = unique.claim_and_enqueue(
				connection,
				rq_queue,
				job,
				key,
				policy,
				call.at_front,
				due,
				gated_envelope=call.envelope if gated else None,
			)
			if gated and outcome[0] == unique.CLAIMED and due is None:
				gates.admit(connection, call.rq_id)  # if this process dies first, the gates' timer does
			return outcome
		if gated:
			gates.push(connection, rq_queue, job, call.envelope, due=due, at_front=call.at_front)
		elif due is not None:
			rqjob.save_scheduled(connection, rq_queue, job, due)
		else:
			rqjob.push(connection, rq_queue, job, at_front=call.at_front)
		return unique.CLAIMED, call.rq_id

	if call.after_commit:
		handle = call.handle(pending=True)

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
		return call.handle()
	unique.remember_held(key)
	status = None if policy.on_conflict != unique.RAISE else unique.holder_status(connection, holder)
	return _conflict(
		connection,
		call.job_id,
		policy,
		call.queue,
		call.method_path,
		holder,
		status,
		replaced=outcome == unique.REPLACED,
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


def _gates(host: Host, method_path: str, queue: str, kwargs: dict, concurrency, rate, now: bool):
	"""The job's gates (``limits``) and how long it may wait at them; ([], None) for none."""
	concurrency = rules.coerce("concurrency", concurrency, rules.Limit)
	rate = rules.coerce("rate", rate, rules.Rate)
	if now and (concurrency or rate):
		raise InvalidArgument(
			"now=True (or is_async=False) runs the job here, past its limits: drop concurrency= / rate=, "
			"or run it in a worker"
		)
	weight = (getattr(host, "fair_shares", None) or {}).get(queue) if not now else None
	if not (concurrency or rate or weight):
		return [], None
	from rq.worker_registration import WORKERS_BY_QUEUE_KEY

	return rules.gates(
		host.namespace,
		method_path,
		queue,
		kwargs,
		concurrency=concurrency,
		rate=rate,
		fair_weight=weight,
		workers_key=WORKERS_BY_QUEUE_KEY % host.rq_queue(queue).name,
		parameters=methods.parameters(method_path) if host.check_methods and (concurrency or rate) else None,
	)


def known_queue(host: Host, queue: object) -> str:
	"""``queue`` when the host's workers listen to it, else UnknownQueue naming those they do."""
	return _known_queue(host.queue_timeouts(), queue)


def _known_queue(queues: dict[str, int], queue: object) -> str:
	if not isinstance(queue, str) or queue not in queues:
		raise UnknownQueue(
			f"unknown queue {queue!r}: this site's workers listen to {', '.join(map(repr, queues))}. "
			"Use one of those, or declare the queue (Frappe: the 'workers' section of "
			"common_site_config.json; plain RQ: jobkit.configure(queues=...)) and start a worker for it"
		)
	return queue


def resolve_timeout(host: Host, queue: object, timeout: object) -> int:
	"""The job timeout in seconds: the one given, else the queue's default."""
	queues = host.queue_timeouts()
	_known_queue(queues, queue)
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
		return os.urandom(16).hex()  # as random as uuid4().hex, at a fifth of its cost
	if not isinstance(job_id, str) or not job_id.strip():
		raise InvalidArgument(f"job_id must be a non-empty string, not {job_id!r}")
	if len(job_id) > MAX_JOB_ID_LENGTH:
		raise InvalidArgument(
			f"job_id is {len(job_id)} characters long; keep it to {MAX_JOB_ID_LENGTH} "
			"(e.g. 'sync-customer::' + the customer's name)"
		)
	return job_id
