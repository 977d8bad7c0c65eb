"""A dead letter: what a job leaves behind when its last attempt fails.

A ``DeadLetter`` holds the job exactly as it was first enqueued (so that retrying it puts back that
job and nothing else), the error of every attempt, and the last traceback. The host keeps it: the
Frappe host as a "Jobkit Failed Job" record, the plain-RQ host in Redis (``dead_letters``).

Whatever shows a letter to people uses ``kwargs``, where the values of keys that look secret are
redacted; only the stored job keeps them, for the retry.
"""

import time
from dataclasses import dataclass

from jobkit.engine.envelope import Envelope

# Parts of a keyword name whose value is not shown (compared in lower case, "-" read as "_").
SECRET_KEY_PARTS = (
	"password",
	"passwd",
	"secret",
	"token",
	"api_key",
	"apikey",
	"authorization",
	"private_key",
	"credential",
)
REDACTED = "********"
# Nesting beyond this is not walked: it is shown as a placeholder rather than risk a secret.
MAX_REDACT_DEPTH = 20
MAX_ERROR_LENGTH = 500


def looks_secret(key: object) -> bool:
	name = str(key).lower().replace("-", "_")
	return any(part in name for part in SECRET_KEY_PARTS)


def redact(value: object, depth: int = 0) -> object:
	"""``value`` with the values of secret-looking keys replaced, in nested dicts and lists too."""
	if depth > MAX_REDACT_DEPTH:
		return REDACTED
	if isinstance(value, dict):
		return {
			key: REDACTED if looks_secret(key) else redact(item, depth + 1) for key, item in value.items()
		}
	if isinstance(value, list | tuple):
		return [redact(item, depth + 1) for item in value]
	return value


def failure(envelope: Envelope, exc: BaseException) -> dict:
	"""One failed attempt, as kept in the envelope of the next attempt and in the dead letter."""
	return {
		"attempt": envelope.attempt,
		"error": f"{type(exc).__name__}: {exc}"[:MAX_ERROR_LENGTH],
		"at": time.time(),
	}


@dataclass(frozen=True)
class DeadLetter:
	"""The record of a job whose last attempt failed."""

	job: dict
	rq_id: str
	failures: tuple[dict, ...]
	traceback: str

	@classmethod
	def of(cls, envelope: Envelope, rq_id: str, exc: BaseException, traceback: str) -> "DeadLetter":
		failures = (*envelope.errors, failure(envelope, exc))
		return cls(envelope.first_attempt(), rq_id, failures, traceback)

	@property
	def id(self) -> str:
		"""The RQ id of the last attempt: one letter per failed run, whatever the job id."""
		return self.rq_id

	@property
	def job_id(self) -> str:
		return self.job["id"]

	@property
	def method(self) -> str:
		return self.job["method"]

	@property
	def queue(self) -> str:
		return self.job["queue"]

	@property
	def user(self) -> str | None:
		return self.job.get("user")

	@property
	def kwargs(self) -> dict:
		"""The job's keyword arguments, secrets redacted: the form to show."""
		return redact(self.job["kwargs"])

	@property
	def attempts(self) -> int:
		return len(self.failures)

	@property
	def error(self) -> str:
		return self.failures[-1]["error"]

	@property
	def error_type(self) -> str:
		"""The last attempt's exception class name ("ValueError")."""
		return self.error.partition(":")[0]

	@property
	def first_failed_at(self) -> float:
		return self.failures[0]["at"]

	@property
	def last_failed_at(self) -> float:
		return self.failures[-1]["at"]

	@property
	def at(self) -> float:
		"""When the record was made: the last failure's time."""
		return self.last_failed_at

	@property
	def reference(self) -> tuple[str, str] | None:
		"""The document the job works on, when its kwargs name one (Frappe's naming)."""
		kwargs = self.job["kwargs"]
		for doctype_key, name_key in (("reference_doctype", "reference_name"), ("doctype", "name")):
			doctype, name = kwargs.get(doctype_key), kwargs.get(name_key)
			if isinstance(doctype, str) and doctype and isinstance(name, str | int) and str(name):
				return doctype, str(name)
		return None
