"""Retries: the policy (``Retry``, a small validated value, and its backoff) and the runner's side
(whether a failure is retried, and writing the next attempt).

``Retry(max_attempts=5, backoff=10, max_backoff=3600, jitter=True)`` means: run a job at most
five times in all; after failed attempt n, wait ``min(max_backoff, backoff * 2**(n-1))`` seconds,
randomised by the jitter kind, before attempt n+1.

- ``"full"`` jitter (what ``True`` means) picks uniformly in ``[0, delay]``: it spreads retries of
  jobs that failed together (a database restart) the most.
- ``"equal"`` picks in ``[delay/2, delay]``: it keeps a floor under the wait.

A retried attempt is a new delayed job (a fresh RQ id, the same logical id, kwargs and user, the
attempt number plus one). The failed attempt ends normally for RQ (no Error Log per attempt);
its RQ job records the id of the attempt that follows, so a handle can follow the chain to the
final outcome. A unique key held until the job is executed passes to the next attempt in the
same script call that writes it, so no other copy can slip in between. When a newer copy holds
the key already (a lost run's key runs out with its lease, and a new call takes it), the attempt
is superseded: not written, recorded as a skipped run with its arguments (``skipped``).
"""

import logging
import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from jobkit.engine import dead_letter, rqjob, unique
from jobkit.engine.envelope import Envelope
from jobkit.engine.errors import InvalidArgument, RetryLater, WorkerLost
from jobkit.engine.handle import RETRIED_AS, SUPERSEDED_META
from jobkit.engine.limits import gates
from jobkit.engine.methods import resolve
from jobkit.engine.numbers import is_number
from jobkit.engine.skipped import SkippedRun

DEFAULT_MAX_ATTEMPTS = 5
DEFAULT_BACKOFF = 10.0
DEFAULT_MAX_BACKOFF = 3600.0
FULL_JITTER = "full"
EQUAL_JITTER = "equal"
NO_JITTER = "none"
JITTER_KINDS = (FULL_JITTER, EQUAL_JITTER, NO_JITTER)
# 2**64 seconds is beyond any cap; stop doubling there rather than overflow a float.
MAX_DOUBLINGS = 64


def compute_backoff(
	attempt: int,
	*,
	backoff: float = DEFAULT_BACKOFF,
	max_backoff: float = DEFAULT_MAX_BACKOFF,
	jitter: str = FULL_JITTER,
	rand: Callable[[], float] = random.random,
) -> float:
	"""Seconds to wait after failed attempt ``attempt`` (1-based) before the next one."""
	delay = min(max_backoff, backoff * 2 ** min(attempt - 1, MAX_DOUBLINGS))
	if jitter == FULL_JITTER:
		return rand() * delay
	if jitter == EQUAL_JITTER:
		return delay / 2 + rand() * delay / 2
	return delay


@dataclass(frozen=True)
class Retry:
	"""How often, and after how long, a failed job runs again."""

	max_attempts: int = DEFAULT_MAX_ATTEMPTS
	backoff: float = DEFAULT_BACKOFF
	max_backoff: float = DEFAULT_MAX_BACKOFF
	jitter: bool | str = True
	retry_on: tuple[type[BaseException], ...] = field(default=())
	give_up_on: tuple[type[BaseException], ...] = field(default=())

	def __post_init__(self):
		if (
			isinstance(self.max_attempts, bool)
			or not isinstance(self.max_attempts, int)
			or self.max_attempts < 1
		):
			raise InvalidArgument(
				f"Retry(max_attempts={self.max_attempts!r}): give the total number of runs, a whole number "
				"of at least 1 (1 means never retry)"
			)
		for name in ("backoff", "max_backoff"):
			value = getattr(self, name)
			if not is_number(value) or value <= 0:
				raise InvalidArgument(f"Retry({name}={value!r}): give a positive number of seconds")
		if self.backoff > self.max_backoff:
			raise InvalidArgument(
				f"Retry(backoff={self.backoff!r}, max_backoff={self.max_backoff!r}): the first wait is "
				"above the cap; lower backoff or raise max_backoff"
			)
		object.__setattr__(self, "jitter", _jitter_kind(self.jitter))
		object.__setattr__(self, "retry_on", _exception_classes("retry_on", self.retry_on))
		object.__setattr__(self, "give_up_on", _exception_classes("give_up_on", self.give_up_on))

	def __repr__(self) -> str:
		def names(classes):
			return "(" + "".join(f"{c.__name__}, " for c in classes).rstrip(" ") + ")"

		return (
			f"Retry(max_attempts={self.max_attempts}, backoff={self.backoff:g}s, "
			f"max_backoff={self.max_backoff:g}s, jitter={self.jitter!r}, "
			f"retry_on={names(self.retry_on)}, give_up_on={names(self.give_up_on)})"
		)

	@classmethod
	def coerce(cls, value: object) -> "Retry | None":
		"""``retry=`` as users write it: a Retry, a number of attempts, True (defaults), or None."""
		if value is None or value is False:
			return None
		if value is True:
			return cls()
		if isinstance(value, cls):
			return value
		if isinstance(value, int):
			return cls(max_attempts=value)
		if type(value).__module__.startswith("rq.") and type(value).__name__ == "Retry":
			# frappe.enqueue(retry=rq.Retry(...)) on Frappe's develop line: fixed intervals, counted
			# as retries after the first attempt; jobkit's policy counts attempts and backs off.
			raise InvalidArgument(
				f"retry={value!r} is RQ's Retry (what frappe.enqueue takes on Frappe's develop line): "
				f"pass jobkit.Retry(max_attempts={getattr(value, 'max', 0) + 1}, backoff=seconds) instead"
			)
		raise InvalidArgument(
			f"retry={value!r}: pass jobkit.Retry(...), a number of attempts (retry=3), or True for the defaults"
		)

	def delay(self, attempt: int, rand: Callable[[], float] = random.random) -> float:
		"""Seconds to wait after failed attempt ``attempt`` before the next one."""
		return compute_backoff(
			attempt, backoff=self.backoff, max_backoff=self.max_backoff, jitter=self.jitter, rand=rand
		)

	def to_envelope(self) -> dict:
		"""Plain data for the job envelope; exception classes travel as dotted paths."""
		return {
			"max_attempts": self.max_attempts,
			"backoff": self.backoff,
			"max_backoff": self.max_backoff,
			"jitter": self.jitter,
			"retry_on": [_path_of(c) for c in self.retry_on],
			"give_up_on": [_path_of(c) for c in self.give_up_on],
		}

	@classmethod
	def from_envelope(cls, data: dict) -> "Retry":
		return cls(
			max_attempts=data["max_attempts"],
			backoff=data["backoff"],
			max_backoff=data["max_backoff"],
			jitter=data["jitter"],
			retry_on=tuple(resolve(path) for path in data["retry_on"]),
			give_up_on=tuple(resolve(path) for path in data["give_up_on"]),
		)


def _jitter_kind(jitter: object) -> str:
	if jitter is True:
		return FULL_JITTER
	if jitter is False or jitter is None:
		return NO_JITTER
	if jitter in JITTER_KINDS:
		return jitter
	raise InvalidArgument(
		f"Retry(jitter={jitter!r}): use True, False, or one of {', '.join(map(repr, JITTER_KINDS))}"
	)


def _exception_classes(name: str, value: object) -> tuple[type[BaseException], ...]:
	classes = (value,) if isinstance(value, type) else value
	if not isinstance(classes, Iterable) or isinstance(classes, str | bytes):
		raise InvalidArgument(f"Retry({name}={value!r}): give an exception class or a tuple of them")
	classes = tuple(classes)
	for cls in classes:
		if not (isinstance(cls, type) and issubclass(cls, BaseException)):
			raise InvalidArgument(f"Retry({name}=...): {cls!r} is not an exception class")
	return classes


def _path_of(cls: type) -> str:
	return f"{cls.__module__}.{cls.__qualname__}"


logger = logging.getLogger("jobkit")

# Errors retried whenever a retry policy is given: the job may well succeed once the network or
# Redis is back, or on another worker. Hosts add their own (Frappe: deadlocks, lock-wait timeouts).
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (ConnectionError, TimeoutError, WorkerLost)
try:
	import redis.exceptions

	TRANSIENT_ERRORS += (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)
except ImportError:  # pragma: no cover - redis is a dependency
	pass


def policy_of(host, envelope: Envelope, exc: BaseException) -> Retry | None:
	"""The job's retry policy; without one, ``Retry()`` for what is retried without asking.

	That is ``RetryLater``, and what the host itself would retry (Frappe's execute_job re-runs a
	job that hit a database deadlock or lock-wait timeout): jobkit does it instead, delayed and as
	the same user, so a job without a policy is no worse off than under ``frappe.enqueue``.
	"""
	if envelope.retry:
		return Retry.from_envelope(envelope.retry)
	return Retry() if isinstance(exc, RetryLater) or host.is_transient(exc) else None


def next_delay(host, envelope: Envelope, exc: BaseException) -> float | None:
	"""Seconds until the next attempt, or None when this failure is final."""
	policy = policy_of(host, envelope, exc)
	attempt = envelope.attempt
	if policy is None or attempt >= policy.max_attempts or isinstance(exc, policy.give_up_on):
		return None
	if isinstance(exc, RetryLater):
		return exc.delay if exc.delay is not None else policy.delay(attempt)
	if isinstance(exc, policy.retry_on + TRANSIENT_ERRORS) or host.is_transient(exc):
		return policy.delay(attempt)
	return None


def schedule_next_attempt(host, envelope: Envelope, rq_job, delay: float, exc: BaseException) -> str | None:
	"""Write the next attempt as a delayed job. Return None, or, when a newer copy of the job holds
	its unique key so that the attempt cannot take it, the holder's RQ id: the attempt is then
	superseded (not written; see ``supersede``)."""
	following = envelope.following(dead_letter.failure(envelope, exc))
	rq_id = unique.fresh_rq_id(host.rq_job_id(envelope.id))
	rq_queue, job = rqjob.create(host, following, rq_id, scheduled=True)
	# Named before it is written: a handle that follows to an id not yet in Redis stays on this
	# attempt, while one that sees the next attempt can always follow to it.
	rq_job.meta[RETRIED_AS] = rq_id
	rq_job.save_meta()
	due = time.time() + max(delay, 0)
	held = envelope.unique
	if held and held["lock"] == unique.UNTIL_EXECUTED:
		policy = unique.UniquePolicy(held["lock"], unique.SKIP, int(held["ttl"] + delay + 1), held["lease"])
		outcome, holder = unique.claim_and_enqueue(
			host.connection,
			rq_queue,
			job,
			held["key"],
			policy,
			False,
			due,
			rq_job.id,
			gated_envelope=following if following.get("gates") else None,
		)
		if outcome != unique.CLAIMED:
			supersede(host, envelope, rq_job, holder, following.attempt, exc)
			return holder
	elif following.get("gates"):
		# Through its gates when due (the gates' timer), as the first attempt went through them.
		gates.push(host.connection, rq_queue, job, following, due=due)
	else:
		rqjob.save_scheduled(host.connection, rq_queue, job, due)
	logger.warning(
		"jobkit: %s attempt %s failed (%s: %s); attempt %s in %.1fs",
		envelope.method,
		envelope.attempt,
		type(exc).__name__,
		str(exc)[:200],
		following.attempt,
		delay,
	)
	return None


def supersede(host, envelope: Envelope, rq_job, holder: str, attempt: int, exc: BaseException) -> None:
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
		dead_letter.failure(envelope, exc)["error"],
	)
	rq_job.meta.pop(RETRIED_AS, None)
	rq_job.meta[SUPERSEDED_META] = meta
	rq_job.save_meta()
	record_superseded(host, envelope, rq_job)


def record_superseded(host, envelope: Envelope, rq_job) -> None:
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
