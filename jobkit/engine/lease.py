"""Keeping a lease alive while its owner runs: a daemon thread that renews it.

A key held by a running job gets a short TTL (the lease) that this thread renews every third
of the lease; a running job's entry in the in-flight registry is renewed the same way. If the process dies (SIGKILL, OOM, a lost machine) the renewals stop and the key
frees itself within one lease, without anyone having to decide that the owner is dead.
"""

import logging
import threading

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
		self._stop = threading.Event()
		self._thread = threading.Thread(target=self._run, name=f"jobkit-lease:{what}", daemon=True)

	def renew(self) -> bool:
		raise NotImplementedError

	def __enter__(self) -> "Renewer":
		self.extend()
		self._thread.start()
		return self

	def __exit__(self, *exc_info) -> None:
		self._stop.set()
		self._thread.join(timeout=self.interval + 1)

	def extend(self) -> bool:
		renewed = self.renew()
		if not renewed and not self.lost:
			self.lost = True
			logger.warning("jobkit: lost the lease on %s (expired or taken over)", self.what)
		return renewed

	def _run(self) -> None:
		while not self._stop.wait(self.interval):
			try:
				self.extend()
			except Exception:
				# A Redis blip must not kill the job; the next renewal may succeed.
				logger.exception("jobkit: could not renew the lease on %s", self.what)


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
