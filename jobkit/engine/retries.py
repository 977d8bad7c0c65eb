"""Runner side of retries: whether a failure is retried, and writing the next attempt.

A retried attempt is a new delayed job (a fresh RQ id, the same logical id, kwargs and user, the
attempt number plus one). The failed attempt ends normally for RQ (no Error Log per attempt);
its RQ job records the id of the attempt that follows, so a handle can follow the chain to the
final outcome. A unique key held until the job is executed passes to the next attempt in the
same script call that writes it, so no other copy can slip in between. When a newer copy holds
the key already (a lost run's key runs out with its lease, and a new call takes it), the attempt
is superseded: not written, recorded as a skipped run with its arguments (``skipped``).
"""

import logging
import time

from jobkit.engine import deadletter, rqjob, unique
from jobkit.engine.errors import RetryLater, WorkerLost
from jobkit.engine.handle import RETRIED_AS, SUPERSEDED_META
from jobkit.engine.retry import Retry
from jobkit.engine.skipped import SkippedRun

logger = logging.getLogger("jobkit")

# Errors retried whenever a retry policy is given: the job may well succeed once the network or
# Redis is back, or on another worker. Hosts add their own (Frappe: deadlocks, lock-wait timeouts).
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (ConnectionError, TimeoutError, WorkerLost)
try:
	import redis.exceptions

	TRANSIENT_ERRORS += (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)
except ImportError:  # pragma: no cover - redis is a dependency
	pass


def policy_of(host, envelope: dict, exc: BaseException) -> Retry | None:
	"""The job's retry policy; without one, ``Retry()`` for what is retried without asking.

	That is ``RetryLater``, and what the host itself would retry (Frappe's execute_job re-runs a
	job that hit a database deadlock or lock-wait timeout): jobkit does it instead, delayed and as
	the same user, so a job without a policy is no worse off than under ``frappe.enqueue``.
	"""
	data = envelope.get("retry")
	if data:
		return Retry.from_envelope(data)
	return Retry() if isinstance(exc, RetryLater) or host.is_transient(exc) else None


def next_delay(host, envelope: dict, exc: BaseException) -> float | None:
	"""Seconds until the next attempt, or None when this failure is final."""
	policy = policy_of(host, envelope, exc)
	attempt = envelope.get("attempt", 1)
	if policy is None or attempt >= policy.max_attempts or isinstance(exc, policy.give_up_on):
		return None
	if isinstance(exc, RetryLater):
		return exc.delay if exc.delay is not None else policy.delay(attempt)
	if isinstance(exc, policy.retry_on + TRANSIENT_ERRORS) or host.is_transient(exc):
		return policy.delay(attempt)
	return None


def schedule_next_attempt(host, envelope: dict, rq_job, delay: float, exc: BaseException) -> str | None:
	"""Write the next attempt as a delayed job. Return None, or, when a newer copy of the job holds
	its unique key so that the attempt cannot take it, the holder's RQ id: the attempt is then
	superseded (not written; see ``supersede``)."""
	following = {
		**envelope,
		"attempt": envelope.get("attempt", 1) + 1,
		"errors": [*envelope.get("errors", []), deadletter.failure(envelope, exc)],
	}
	rq_id = unique.fresh_rq_id(host.rq_job_id(envelope["id"]))
	rq_queue, job = rqjob.create(host, following, rq_id, scheduled=True)
	# Named before it is written: a handle that follows to an id not yet in Redis stays on this
	# attempt, while one that sees the next attempt can always follow to it.
	rq_job.meta[RETRIED_AS] = rq_id
	rq_job.save_meta()
	due = time.time() + max(delay, 0)
	held = envelope.get("unique")
	if held and held["lock"] == unique.UNTIL_EXECUTED:
		policy = unique.UniquePolicy(held["lock"], unique.SKIP, int(held["ttl"] + delay + 1), held["lease"])
		outcome, holder = unique.claim_and_enqueue(
			host.connection, rq_queue, job, held["key"], policy, False, due, rq_job.id
		)
		if outcome != unique.CLAIMED:
			supersede(host, envelope, rq_job, holder, following["attempt"], exc)
			return holder
	else:
		rqjob.save_scheduled(host.connection, rq_queue, job, due)
	logger.warning(
		"jobkit: %s attempt %s failed (%s: %s); attempt %s in %.1fs",
		envelope["method"],
		envelope.get("attempt", 1),
		type(exc).__name__,
		str(exc)[:200],
		following["attempt"],
		delay,
	)
	return None


def supersede(host, envelope: dict, rq_job, holder: str, attempt: int, exc: BaseException) -> None:
	"""End the run ``rq_job`` whose next attempt ``attempt`` cannot take its unique key: ``holder``,
	a newer copy of the job, holds it and is the job's run now.

	The run's RQ job names the holder first (its handle then ends "superseded", and the reaper
	leaves it), then the host records the skipped attempt with its arguments. A process that dies
	in between leaves the run to the reaper, which writes the record from what the job names.
	"""
	meta = SkippedRun.meta(
		holder,
		unique.holder_status(host.connection, holder),
		attempt,
		deadletter.failure(envelope, exc)["error"],
	)
	rq_job.meta.pop(RETRIED_AS, None)
	rq_job.meta[SUPERSEDED_META] = meta
	rq_job.save_meta()
	record_superseded(host, envelope, rq_job)


def record_superseded(host, envelope: dict, rq_job) -> None:
	"""Write the record of the superseded attempt the run ``rq_job`` names (again: the same record)."""
	skipped = SkippedRun.superseded(envelope, rq_job.id, rq_job.meta[SUPERSEDED_META])
	host.record_skipped_run(skipped)
	logger.warning(
		"jobkit: %s attempt %s (after %s) superseded: %s, a newer copy of job %r, holds its key and "
		"runs instead; its arguments are kept on the skipped run %s",
		skipped.method,
		skipped.attempt,
		skipped.error,
		skipped.holder,
		skipped.job_id,
		skipped.id,
	)
