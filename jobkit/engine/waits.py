"""Waits that ran out: the jobs that waited at a gate (``limits``) past their bound (``max_wait``): each becomes a dead letter (a
"Jobkit Failed Job" on a site) whose error, ``WaitedTooLong``, names the gate and the wait.

The gates' timer takes such a job out of its gate's list and names it in its namespace's expired
list, in one step (``lua/gate_tick.lua``); ``record`` writes the letters, through the host that owns
the namespace, and only then forgets each name: a process that dies in between leaves the name for
the next pass, which writes the letter once more rather than never.
"""

import logging
import time

from jobkit.engine import context, rqcompat
from jobkit.engine.envelope import Envelope
from jobkit.engine.errors import WaitedTooLong
from jobkit.engine.host import Host
from jobkit.engine.limits import gates, rules
from jobkit.engine.runner import job_context, run_failure_callback, write_dead_letter

logger = logging.getLogger("jobkit")


def record(host: Host) -> int:
	"""Write the dead letters of the host's jobs that waited too long; the number written."""
	from rq.exceptions import NoSuchJobError
	from rq.job import Job

	connection, written = host.connection, 0
	for rq_id in gates.expired_ids(connection, host.namespace):
		try:
			rq_job = Job.fetch(rq_id, connection=connection)
		except NoSuchJobError:
			gates.forget_expired(connection, host.namespace, rq_id)
			continue
		envelope = Envelope.read(host.envelope_of(rq_job))
		if envelope is None:
			gates.forget_expired(connection, host.namespace, rq_id)
			continue
		exc = WaitedTooLong(_reason(connection, envelope, rq_id))
		tokens = context.enter_job(host, job_context(envelope, rq_id))
		try:
			if not write_dead_letter(host, envelope, rq_job, exc, f"jobkit.WaitedTooLong: {exc}\n"):
				continue  # reported; the name stays for the next pass
			run_failure_callback(host, envelope, rq_job, WaitedTooLong, exc, None)
		finally:
			context.exit_job(tokens)
		gates.forget_expired(connection, host.namespace, rq_id)
		logger.warning("jobkit: %s", exc)
		written += 1
	return written


def _reason(connection, envelope: Envelope, rq_id: str) -> str:
	fields = connection.hmget(gates.RQ_JOB_PREFIX + rq_id, gates.WAITING_ON_FIELD, gates.WAITING_SINCE_FIELD)
	waiting_on, since = (rqcompat.text(value) if value else None for value in fields)
	gate = next((g for g in envelope.get("gates", []) if g[0] == waiting_on), None)
	what = rules.describe(*gate[:3]) if gate else (waiting_on or "its limits")
	seconds = time.time() - float(since) if since else None
	waited = (
		"past its bound" if seconds is None else f"{seconds:.1f} s" if seconds < 10 else f"{seconds:.0f} s"
	)
	return (
		f"{envelope.method} waited {waited} for its turn ({what}), longer than its max_wait of "
		f"{envelope.get('max_wait'):g} s, and did not run. Raise the limit or max_wait, or spread the "
		"enqueues; retry this record to run it"
	)


__all__ = ["record"]
