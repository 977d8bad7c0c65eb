"""The envelope: one attempt of a jobkit job, as it travels inside its RQ job.

On the wire it is a plain, versioned dict (``"v": ENVELOPE_VERSION``), so that any worker of any
jobkit release that knows the version reads it, and a host wraps it in its own job format (the
plain-RQ host: ``jobkit.engine.runner.run(job=...)``; Frappe: ``execute_job(kwargs={"job": ...})``).
In memory ``Envelope`` gives that dict its names: built for a first attempt (``new``), read through
properties, advanced to the next attempt (``following``), and turned back into the job as first
enqueued (``first_attempt``) for a record. It is written as a plain dict (``wire``), never as this
class.
"""

import time

from jobkit.engine.defaults import ENVELOPE_VERSION, LEASE_SECONDS

# Set on a batch chunk's envelope: the job writes its in-flight entry in its own first round trip.
JOINS_IN_FLIGHT = "joins_in_flight"
# What an attempt adds to the job as first enqueued.
ATTEMPT_FIELDS = ("attempt", "errors")
# The keyword argument of an RQ job that carries the envelope, in every host's job format.
KWARG = "job"
# In the serialized data of every RQ job that carries an envelope, whatever its host: the runner's
# module (``jobkit.engine.runner.run``, or the class of ``runner.NamedRunner``), in every format
# jobkit has written.
JOBKIT_MARK = b"jobkit.engine.runner"


class Envelope(dict):
	"""A jobkit envelope: the wire dict, with names for what it holds."""

	__slots__ = ()

	@classmethod
	def new(
		cls,
		*,
		job_id: str,
		method: str,
		kwargs: dict,
		namespace: str,
		queue: str,
		timeout: int | None,
		user: str | None,
		lease: float,
		callbacks: dict | None = None,
		name: str | None = None,
		retry: dict | None = None,
	) -> "Envelope":
		"""A first attempt (arguments already validated). ``lease``: the enqueuing side's in-flight
		lease, which its reaper also reads; ``retry``: a policy's ``to_envelope()``."""
		envelope = cls(
			v=ENVELOPE_VERSION,
			id=job_id,
			method=method,
			kwargs=kwargs,
			ns=namespace,
			queue=queue,
			timeout=timeout,
			user=user,
			enqueued_at=time.time(),
			attempt=1,
			lease=lease,
			**(callbacks or {}),
		)
		if name is not None:
			envelope["name"] = str(name)
		if retry:
			envelope["retry"] = retry
		return envelope

	@classmethod
	def read(cls, data: object) -> "Envelope | None":
		"""``data`` as an envelope, or None when it is not one this release reads."""
		if isinstance(data, cls):
			return data
		if isinstance(data, dict) and data.get("v") == ENVELOPE_VERSION and "ns" in data:
			return cls(data)
		return None

	@classmethod
	def found_in(cls, rq_job) -> "Envelope | None":
		"""The envelope an RQ job carries, whatever host wrote it: under ``job`` in its keyword
		arguments, or in a dict among them (a host format that wraps it); None for any other job."""
		try:
			# Read before unpickling: a job that names nothing of jobkit's carries no envelope, and
			# unpickling it imports its modules here; in a worker, every work-horse forked after
			# would carry them (measured: Frappe's test_memory_usage, 43 MB to 44-48 MB).
			if JOBKIT_MARK not in rq_job.data:
				return None
			kwargs = rq_job.kwargs
		except Exception:  # a job this process cannot unpickle: whoever runs it reports that
			return None
		if not isinstance(kwargs, dict):
			return None
		found = cls.read(kwargs.get(KWARG))
		for value in kwargs.values():
			if found is not None:
				break
			if isinstance(value, dict):
				found = cls.read(value.get(KWARG))
		return found

	def wire(self) -> dict:
		"""The plain dict written into an RQ job."""
		return dict(self)

	@property
	def id(self) -> str:
		return self["id"]

	@property
	def method(self) -> str:
		return self["method"]

	@property
	def kwargs(self) -> dict:
		return self["kwargs"]

	@property
	def namespace(self) -> str:
		return self["ns"]

	@property
	def queue(self) -> str:
		return self["queue"]

	@property
	def timeout(self) -> int | None:
		return self["timeout"]

	@property
	def user(self) -> str | None:
		return self.get("user")

	@property
	def enqueued_at(self) -> float:
		return self["enqueued_at"]

	@property
	def attempt(self) -> int:
		return self.get("attempt", 1)

	@property
	def name(self) -> str | None:
		return self.get("name")

	@property
	def description(self) -> str:
		"""What RQ and Frappe show for the job: its name, else its method."""
		return self.get("name") or self["method"]

	@property
	def retry(self) -> dict | None:
		"""The retry policy, as ``Retry.to_envelope`` wrote it (None: none given)."""
		return self.get("retry")

	@property
	def unique(self) -> dict | None:
		"""The unique key this job holds (``UniquePolicy.envelope``), or None."""
		return self.get("unique")

	@property
	def errors(self) -> list[dict]:
		"""The failures of the attempts before this one."""
		return self.get("errors", [])

	@property
	def on_success(self) -> str | None:
		return self.get("on_success")

	@property
	def on_failure(self) -> str | None:
		return self.get("on_failure")

	@property
	def joins_in_flight(self) -> bool:
		return bool(self.get(JOINS_IN_FLIGHT))

	def lease(self, default: float = LEASE_SECONDS) -> float:
		"""The in-flight lease the enqueuing side set (envelopes of older releases carry none)."""
		return self.get("lease") or default

	def following(self, failure: dict) -> "Envelope":
		"""The next attempt, after this one failed with ``failure`` (``dead_letter.failure``)."""
		return Envelope(self, attempt=self.attempt + 1, errors=[*self.errors, failure])

	def first_attempt(self) -> dict:
		"""The job as it was enqueued, without what its attempts added (a plain dict, for records)."""
		job = {key: value for key, value in self.items() if key not in ATTEMPT_FIELDS}
		job["attempt"] = 1
		return job
