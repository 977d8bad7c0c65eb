"""Keeping leases alive while their owner runs: one daemon thread per process renews them all.

A key held by a running job gets a short TTL (the lease), renewed every third of the lease; a
running job's entry in the in-flight registry is renewed the same way. If the process dies
(SIGKILL, OOM, a lost machine) the renewals stop and the lease ends within its length, without
anyone having to decide that the owner is dead. One shared thread (started again in a forked
child, where threads do not survive) keeps a short job from paying for a thread of its own.
"""

import _thread
import heapq
import itertools
import logging
import os
import threading
import time

from jobkit.engine.scripts import EXTEND

logger = logging.getLogger("jobkit")


class Renewer:
	"""Call ``renew`` now and every third of ``lease_seconds`` until the block ends.

	``renew`` returns False once the lease is no longer ours (expired, or taken over): that is
	logged once, and the renewals go on (a later one cannot succeed, but costs nothing).
	"""

	def __init__(self, what: str, lease_seconds: float):
		self.what = what
		self.interval = lease_seconds / 3
		self.lost = False
		self.stopped = False
		# Held while a renewal runs: the block's end waits for one in progress, so that no renewal
		# lands after the owner has released what it renews.
		self.renewing = threading.Lock()

	def renew(self) -> bool:
		raise NotImplementedError

	def start(self) -> None:
		"""Take the lease (by default, the first renewal)."""
		self.extend()

	def __enter__(self) -> "Renewer":
		self.start()
		renew_in_background(self)
		return self

	def __exit__(self, *exc_info) -> None:
		with self.renewing:
			self.stopped = True

	def extend(self) -> bool:
		renewed = self.renew()
		if not renewed and not self.lost:
			self.lost = True
			logger.warning("jobkit: lost the lease on %s (expired or taken over)", self.what)
		return renewed

	def renew_if_running(self) -> None:
		with self.renewing:
			if self.stopped:
				return
			try:
				self.extend()
			except Exception:
				# A Redis blip must not kill the job; the next renewal may succeed.
				logger.exception("jobkit: could not renew the lease on %s", self.what)


class _Renewals:
	"""The process's renewal thread and its schedule (a heap of next renewal times)."""

	def __init__(self):
		self._reset()
		# A forked child (an RQ work-horse) has no renewal thread, and may have inherited the lock
		# in the state the parent's thread left it: start afresh there.
		os.register_at_fork(after_in_child=self._reset)

	def _reset(self) -> None:
		self._lock = threading.Condition()
		self._due: list[tuple[float, int, Renewer]] = []
		self._order = itertools.count()
		self._started = False

	def add(self, renewer: Renewer) -> None:
		with self._lock:
			if not self._started:
				self._started = True
				# The low-level start: threading.Thread.start also waits until the new thread runs,
				# which costs a forked work-horse (a fresh start per job) up to a millisecond.
				_thread.start_new_thread(self._run, ())
			heapq.heappush(self._due, (time.monotonic() + renewer.interval, next(self._order), renewer))
			self._lock.notify()

	def _run(self) -> None:
		while True:
			with self._lock:
				while not self._due or self._due[0][0] > time.monotonic():
					self._lock.wait(self._due[0][0] - time.monotonic() if self._due else None)
				_, _, renewer = heapq.heappop(self._due)
			if renewer.stopped:
				continue
			renewer.renew_if_running()
			if not renewer.stopped:
				with self._lock:
					heapq.heappush(
						self._due, (time.monotonic() + renewer.interval, next(self._order), renewer)
					)


_renewals = _Renewals()


def renew_in_background(renewer: Renewer) -> None:
	"""Renew ``renewer`` from the process's renewal thread until its block ends."""
	_renewals.add(renewer)


class LeaseKeeper(Renewer):
	"""Keeps a key owned by ``token`` (a unique key, a lock) from expiring."""

	def __init__(self, connection, key: str, token: str, lease_seconds: float):
		super().__init__(key, lease_seconds)
		self.connection = connection
		self.key = key
		self.token = token
		self.lease_ms = max(1, int(lease_seconds * 1000))

	def renew(self) -> bool:
		return bool(EXTEND(self.connection, [self.key], [self.token, self.lease_ms]))
