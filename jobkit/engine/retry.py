"""Retry policy: a small validated value object, and the pure backoff function it uses.

``Retry(max_attempts=5, backoff=10, max_backoff=3600, jitter=True)`` means: run a job at most
five times in all; after failed attempt n, wait ``min(max_backoff, backoff * 2**(n-1))`` seconds,
randomised by the jitter kind, before attempt n+1.

- ``"full"`` jitter (what ``True`` means) picks uniformly in ``[0, delay]``: it spreads retries of
  jobs that failed together (a database restart) the most.
- ``"equal"`` picks in ``[delay/2, delay]``: it keeps a floor under the wait.
"""

import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from jobkit.engine.errors import InvalidArgument
from jobkit.engine.numbers import is_number

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
		from jobkit.engine.methods import resolve

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
