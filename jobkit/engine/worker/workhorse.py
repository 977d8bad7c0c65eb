"""A forking worker keeping its work-horse's run in flight, and the work-horse dying with it.

A run's in-flight entry must be renewed while the run lives (``inflight``). In a forking worker the
run lives in a work-horse, a child forked for each job, and a thread of its own to renew the entry
costs every job a thread start and the memory it touches (about 0.3 ms here, a few percent of a
short job such as a batch chunk). jobkit's worker renews the entry itself instead, while it waits
for the work-horse to end; it was idle then anyway.

That makes the entry the worker's word, so it must not outlive the worker while the run goes on:
the work-horse asks the kernel for SIGKILL when its worker dies (Linux's PR_SET_PDEATHSIG). A run
whose worker was killed is then lost as a whole, and the reaper retries it once its lease ends, as
it would if both had died, instead of an unwatched work-horse running on while its entry runs out.

Where the kernel offers neither (not Linux, or Linux before 5.3, without pidfd), the work-horse
renews its entry from a thread, as any other run does.
"""

import ctypes
import logging
import os
import select
import signal
import sys
import time
from functools import cache

from jobkit.engine.inflight import InFlight, WorkerRun

logger = logging.getLogger("jobkit")

# prctl(2): the signal a process gets when the thread that forked it ends.
PR_SET_PDEATHSIG = 1


@cache
def _prctl():
	"""libc's prctl, loaded in the worker once, before any fork; None where there is none."""
	if not sys.platform.startswith("linux"):
		return None
	try:
		return ctypes.CDLL(None, use_errno=True).prctl
	except (OSError, AttributeError):
		return None


@cache
def supported() -> bool:
	"""Whether this system lets a worker renew its work-horse's entry (pidfd and PR_SET_PDEATHSIG)."""
	if _prctl() is None or not hasattr(os, "pidfd_open"):
		return False
	try:
		os.close(os.pidfd_open(os.getpid()))
	except OSError:  # ENOSYS: a kernel before 5.3
		return False
	return True


class Renewal:
	"""The renewal, by a worker, of the entry of the run its work-horse is about to start."""

	def __init__(self, connection, run: WorkerRun):
		run.renewed_by_worker = True
		self.run = run
		self.entry = InFlight(connection, run.namespace, run.rq_id, run.lease_seconds)
		self.worker_pid = os.getpid()
		# The worker wrote the entry as it started the run, just now.
		self.due = time.monotonic() + self.entry.interval

	def in_work_horse(self) -> None:
		"""In the work-horse, before the run: die with the worker, or renew the entry here after all."""
		if die_with_parent(self.worker_pid):
			return
		# Both renew: harmless, and the run stays covered whoever outlives whom.
		self.run.renewed_by_worker = False
		logger.warning("jobkit: %s cannot die with its worker; it renews its own lease", self.run.rq_id)

	def wait_for(self, pid: int) -> None:
		"""Renew the entry until the work-horse ``pid`` ends (its exit is left for the caller to reap).

		A signal handler that raises (RQ's monitoring alarm) interrupts the wait; the next one goes
		on where this one stopped.
		"""
		try:
			pidfd = os.pidfd_open(pid)
		except OSError:  # no such process: the caller's wait finds out what became of it
			return
		try:
			while not select.select([pidfd], [], [], max(0.0, self.due - time.monotonic()))[0]:
				self.entry.renew_if_running()
				self.due = time.monotonic() + self.entry.interval
		finally:
			os.close(pidfd)


def die_with_parent(parent_pid: int) -> bool:
	"""Have the kernel SIGKILL this process when ``parent_pid`` (its parent) ends; False if it cannot.

	A parent already gone (it died between the fork and this call) kills this process at once.
	"""
	prctl = _prctl()
	if prctl is None or prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
		return False
	if os.getppid() != parent_pid:
		os.kill(os.getpid(), signal.SIGKILL)
	return True
