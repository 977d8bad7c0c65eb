"""jobkit's exceptions: one root, flat and specific subclasses.

Every message says what was wrong and what to do about it, so that a developer reading a
traceback in a worker log does not have to open jobkit's source.
"""


class JobkitError(Exception):
	"""Root of every error jobkit raises on purpose."""


class NotConfigured(JobkitError):
	"""No host is available: not inside a Frappe site, and ``jobkit.configure`` was not called."""


class InvalidArgument(JobkitError):
	"""An argument to a jobkit call has a wrong type or value."""


class UnknownQueue(InvalidArgument):
	"""The queue name is not one the host's workers listen to."""


class InvalidTimeout(InvalidArgument):
	"""A timeout is not a positive number of seconds."""


class InvalidMethod(InvalidArgument):
	"""The job target is not an importable callable, or a dotted path to one."""


class UnserializableArguments(InvalidArgument):
	"""The job's keyword arguments cannot be pickled for the queue."""


class PayloadTooLarge(InvalidArgument):
	"""The serialised job is larger than the configured limit."""


class DuplicateJob(JobkitError):
	"""A unique job's key is held by another job (``on_conflict="raise"``)."""

	def __init__(self, message: str, job_id: str, holder: str):
		super().__init__(message)
		self.job_id = job_id
		self.holder = holder


class RetryLater(JobkitError):
	"""Raised by a job to ask for another attempt, after ``delay`` seconds (else its policy's backoff).

	It counts as a failed attempt: once the retry policy's ``max_attempts`` is reached, the job
	fails for good. Without a retry policy, the default ``Retry()`` applies.
	"""

	def __init__(self, message: str = "the job asked to be retried", delay: float | None = None):
		super().__init__(message)
		self.delay = delay


class UnknownDeadLetter(JobkitError):
	"""No dead letter has this id to act on (never written, already retried or discarded, expired,
	or being retried by another caller right now)."""


class UnknownSkippedRun(JobkitError):
	"""No skipped run has this id (never written, discarded, or expired)."""


class FinalFailure(JobkitError):
	"""A job's last attempt failed with an error its host would retry on its own (its ``__cause__``).

	Raised in place of that error so that the host does not run the job again behind jobkit's back
	(Frappe's execute_job re-runs a job that hit a deadlock, up to five times in-process).
	"""


class LockTimeout(JobkitError):
	"""A lock stayed held by another owner for longer than the caller would wait."""

	def __init__(self, message: str, name: str, holder: str | None):
		super().__init__(message)
		self.name = name
		self.holder = holder


class LockNotOwned(JobkitError):
	"""Releasing or extending a lock this owner does not hold (it expired, or another owner has it)."""


class WaitedTooLong(JobkitError):
	"""A limited job waited at its gate (``jobkit.Limit``, ``jobkit.Rate``) past its ``max_wait``: it
	never ran, and is recorded as a failed job with this as its error."""


class WorkerLost(JobkitError):
	"""A run's process died without reporting an outcome (SIGKILL, out of memory, a lost machine).

	The reaper records it as the run's error: retried under the job's policy, else final.
	"""
