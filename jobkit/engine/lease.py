"""Keeping a key alive while its owner runs: a daemon thread that re-extends its TTL.

A key held by a running job gets a short TTL (the lease) that this thread renews every third
of the lease. If the process dies (SIGKILL, OOM, a lost machine) the renewals stop and the key
frees itself within one lease, without anyone having to decide that the owner is dead.
"""

import logging
import threading

from jobkit.engine.scripts import EXTEND

logger = logging.getLogger("jobkit")


class LeaseKeeper:
	def __init__(self, connection, key: str, token: str, lease_seconds: float):
		self.connection = connection
		self.key = key
		self.token = token
		self.lease_ms = max(1, int(lease_seconds * 1000))
		self.interval = lease_seconds / 3
		self.lost = False
		self._stop = threading.Event()
		self._thread = threading.Thread(target=self._run, name=f"jobkit-lease:{key}", daemon=True)

	def __enter__(self) -> "LeaseKeeper":
		self.extend()
		self._thread.start()
		return self

	def __exit__(self, *exc_info) -> None:
		self._stop.set()
		self._thread.join(timeout=self.interval + 1)

	def extend(self) -> bool:
		extended = bool(EXTEND(self.connection, [self.key], [self.token, self.lease_ms]))
		if not extended and not self.lost:
			self.lost = True
			logger.warning("jobkit: lost the lease on %s (expired or taken over)", self.key)
		return extended

	def _run(self) -> None:
		while not self._stop.wait(self.interval):
			try:
				self.extend()
			except Exception:
				# A Redis blip must not kill the job; the next renewal may succeed.
				logger.exception("jobkit: could not renew the lease on %s", self.key)
