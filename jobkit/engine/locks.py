"""``jobkit.lock``: a token-owned distributed lock, as a context manager and as a decorator.

Taking the lock is ``SET key token NX PX ttl``; releasing and extending compare the token first
(``release.lua``, ``extend.lua``), so only the owner can do either, and a holder whose lock
expired cannot free the next owner's. Every lock has a TTL: a holder that crashes blocks the
others for at most that long. ``auto_extend=True`` keeps renewing it while the holder's process
lives, for work of unknown length. Locks are not re-entrant. The key is namespaced by the host
(the site under Frappe).
"""

import functools
import inspect
import logging
import os
import socket
import time
from uuid import uuid4

from jobkit.engine import context, defaults, keys
from jobkit.engine.errors import InvalidArgument, LockNotOwned, LockTimeout
from jobkit.engine.lease import LeaseKeeper
from jobkit.engine.numbers import is_number
from jobkit.engine.scripts import EXTEND, RELEASE

logger = logging.getLogger("jobkit")

MAX_NAME_LENGTH = 200
# Polling while waiting: from the first to the longest pause, doubling in between.
FIRST_POLL_SECONDS = 0.005
LONGEST_POLL_SECONDS = 0.1


class Lock:
	"""One owner's hold on a named lock. Use one object per holder (the decorator makes one per call)."""

	def __init__(
		self,
		name: str,
		*,
		ttl: float = defaults.LOCK_TTL,
		wait: float = 0,
		auto_extend: bool = False,
		host=None,
	):
		self.name = _checked_name(name)
		self.ttl = _positive("ttl", ttl)
		if not is_number(wait) or wait < 0:
			raise InvalidArgument(f"wait must be 0 or more seconds, not {wait!r}")
		self.wait = wait
		self.auto_extend = bool(auto_extend)
		self._host = host
		self.token: str | None = None
		self._keeper: LeaseKeeper | None = None

	def __repr__(self) -> str:
		return (
			f"<jobkit.Lock {self.name!r} ttl={self.ttl} wait={self.wait} {'held' if self.token else 'free'}>"
		)

	@property
	def key(self) -> str:
		return keys.lock(self._resolved_host().namespace, self.name)

	def acquire(self) -> "Lock":
		"""Take the lock, waiting up to ``wait`` seconds; ``LockTimeout`` if it stays held."""
		if self.token is not None:
			raise InvalidArgument(
				f"lock {self.name!r} is already held by this object: locks are not re-entrant"
			)
		connection, key = self._resolved_host().connection, self.key
		token = f"{socket.gethostname()}:{os.getpid()}:{uuid4().hex}"
		deadline = time.monotonic() + self.wait
		pause = FIRST_POLL_SECONDS
		while not connection.set(key, token, nx=True, px=_ms(self.ttl)):
			left = deadline - time.monotonic()
			if left <= 0:
				with connection.pipeline() as pipe:
					holder, ttl_ms = pipe.get(key).pttl(key).execute()
				holder = holder.decode() if holder else None
				raise LockTimeout(
					f"lock {self.name!r} is held by {holder or 'another owner'}"
					+ (f" and stayed held for the {self.wait:g} s waited" if self.wait else "")
					+ (
						f"; it expires in {ttl_ms / 1000:.1f} s unless its holder renews it"
						if ttl_ms > 0
						else ""
					)
					+ ". Retry later, or pass wait= to wait for it",
					self.name,
					holder,
				)
			time.sleep(min(pause, left))
			pause = min(pause * 2, LONGEST_POLL_SECONDS)
		self.token = token
		if self.auto_extend:
			self._keeper = LeaseKeeper(connection, key, token, self.ttl).__enter__()
		return self

	def release(self) -> None:
		"""Free the lock; ``LockNotOwned`` if this owner no longer holds it."""
		token, self.token = self.token, None
		if self._keeper is not None:
			self._keeper.__exit__(None, None, None)
			self._keeper = None
		if token is None or not RELEASE(self._resolved_host().connection, [self.key], [token]):
			raise LockNotOwned(
				f"lock {self.name!r} was not released: this owner does not hold it (never taken, "
				f"released already, or expired after {self.ttl:g} s and maybe taken by another owner). "
				"Use a longer ttl=, or auto_extend=True for work of unknown length"
			)

	def extend(self, ttl: float | None = None) -> None:
		"""Reset the lock's TTL (to ``ttl`` seconds, else its own); ``LockNotOwned`` if not held."""
		ttl = self.ttl if ttl is None else _positive("ttl", ttl)
		if self.token is None or not EXTEND(
			self._resolved_host().connection, [self.key], [self.token, _ms(ttl)]
		):
			raise LockNotOwned(f"lock {self.name!r} was not extended: this owner does not hold it")

	def locked(self) -> bool:
		"""Whether anyone holds the lock now."""
		return bool(self._resolved_host().connection.exists(self.key))

	def __enter__(self) -> "Lock":
		return self.acquire()

	def __exit__(self, exc_type, exc, tb) -> None:
		try:
			self.release()
		except LockNotOwned:
			if exc_type is None:
				raise
			# The block's own error is the one to see; the lost lock is only worth a line.
			logger.warning(
				"jobkit: lock %r had expired when its block raised %s", self.name, exc_type.__name__
			)

	def __call__(self, fn):
		"""Decorate ``fn``: each call runs holding the lock, its name formatted with the call's arguments."""
		signature = inspect.signature(fn)
		options = {"ttl": self.ttl, "wait": self.wait, "auto_extend": self.auto_extend, "host": self._host}
		template = self.name
		_check_fields(template, signature, fn)

		@functools.wraps(fn)
		def locked_call(*args, **kwargs):
			bound = signature.bind(*args, **kwargs)
			bound.apply_defaults()
			with Lock(template.format(**bound.arguments), **options):
				return fn(*args, **kwargs)

		return locked_call

	def _resolved_host(self):
		return self._host or context.get_host()


def lock(name: str, *, ttl: float = defaults.LOCK_TTL, wait: float = 0, auto_extend: bool = False) -> Lock:
	"""A distributed lock named ``name``: ``with jobkit.lock(...):`` or ``@jobkit.lock(...)``.

	``ttl`` (seconds) bounds how long a crashed holder blocks others; ``wait`` is how long to wait
	for a held lock before ``LockTimeout``; ``auto_extend`` renews the TTL while the holder lives.
	As a decorator, ``name`` may be a format string over the function's arguments
	(``"sync::{customer}"``).
	"""
	return Lock(name, ttl=ttl, wait=wait, auto_extend=auto_extend)


def _checked_name(name: object) -> str:
	if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME_LENGTH:
		raise InvalidArgument(
			f"a lock name is a non-empty string of at most {MAX_NAME_LENGTH} characters, not {name!r}"
		)
	return name


def _check_fields(template: str, signature: inspect.Signature, fn) -> None:
	"""Fail at decoration time, not at the first call, on a name that uses an unknown argument."""
	import string

	for _, field, _, _ in string.Formatter().parse(template):
		if field is None:
			continue
		argument = field.split(".")[0].split("[")[0]
		if argument not in signature.parameters:
			raise InvalidArgument(
				f"lock name {template!r} uses {{{field}}}, but {fn.__qualname__}() has no argument "
				f"{argument!r}: use one of {', '.join(signature.parameters) or '(none)'}"
			)


def _positive(what: str, value: object) -> float:
	if not is_number(value) or value <= 0:
		raise InvalidArgument(f"{what} must be a positive number of seconds, not {value!r}")
	return value


def _ms(seconds: float) -> int:
	return max(1, int(seconds * 1000))
