"""Every Redis key and RQ job id jobkit writes, built from named templates in this one place.

The namespace (a Frappe site, or the name given to ``jobkit.configure``) is always a parameter:
only the host decides it, so two sites on one Redis never see each other's keys.
"""

import re
from urllib.parse import quote

NAMESPACE_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}$")

# Pub/sub channel the plain-RQ host publishes realtime events on, and the events' names (Frappe's
# realtime events carry the same names).
EVENTS_CHANNEL = "jobkit:{namespace}:events"
PROGRESS_EVENT = "jobkit_progress"
BATCH_EVENT = "jobkit_batch"

# The dedup key of a unique job (value: the RQ id of the job holding it).
UNIQUE = "jobkit:{namespace}:unique:{job_id}"

# The run lock of a `while_executing` job (value: the RQ id of the job running).
RUNNING = "jobkit:{namespace}:running:{job_id}"

# A named lock (``jobkit.lock``; value: the owner's token).
LOCK = "jobkit:{namespace}:lock:{name}"

# Jobs a jobkit worker has taken off their queue and not yet started (a sorted set of RQ ids,
# scored by the Unix time the note ends; see taking.py). Not namespaced: RQ's queues are shared
# by every namespace on one Redis (every site of a bench), and a worker takes a job before it
# knows whose it is.
TAKEN = "jobkit:taken"

# Paused queues (a set of RQ queue keys): jobkit's workers take no job from them (see pausing.py).
# Not namespaced, for the same reason as TAKEN: a queue is every site's on a bench.
PAUSED = "jobkit:paused"

# Jobs being run (a sorted set of RQ ids, scored by the Unix time their runner's lease ends);
# an entry whose lease ran out belongs to a run whose process died (see reaper.py).
IN_FLIGHT = "jobkit:{namespace}:in-flight"

# A batch: its state (hash), chunk specs (hash: index -> pickled spec), chunks not yet released
# (list of indexes), segments already counted (set), failed items (list, capped), and the index
# of a namespace's batches (sorted set, scored by creation time).
BATCH = "jobkit:{namespace}:batch:{batch_id}"
BATCH_CHUNKS = "jobkit:{namespace}:batch:{batch_id}:chunks"
BATCH_PENDING = "jobkit:{namespace}:batch:{batch_id}:pending"
BATCH_ENDED = "jobkit:{namespace}:batch:{batch_id}:ended"
BATCH_FAILURES = "jobkit:{namespace}:batch:{batch_id}:failures"
BATCHES = "jobkit:{namespace}:batches"
# The batches whose chunks are still being written, scored by when their writer must next be heard of.
BATCHES_WRITING = "jobkit:{namespace}:batches:writing"

# A run's progress (JSON of its last state, by RQ id), the runs an owner has reported progress of
# (sorted set of RQ ids, scored by their last update), and a run's cancel flag.
PROGRESS = "jobkit:{namespace}:progress:{run_id}"
PROGRESS_OWNER = "jobkit:{namespace}:progress-of:{owner}"
PROGRESS_CANCEL = "jobkit:{namespace}:cancel:{run_id}"

# Job stats (see stats.py): a hash per minute or hour ({period}: "minute" or "hour", {moment}: its
# UTC start as YYYYMMDDHHMM or YYYYMMDDHH), the lifetime totals (hash), the methods seen (sorted set,
# scored by their last run) and a method's recent runs (sorted set of RQ ids, scored by their end).
STATS = "jobkit:{namespace}:stats:{period}:{moment}"
STATS_TOTALS = "jobkit:{namespace}:stats:totals"
STATS_METHODS = "jobkit:{namespace}:stats:methods"
RECENT_RUNS = "jobkit:{namespace}:runs:{method}"
# The last hour a Frappe site rolled up into its Jobkit Job Stat records (YYYYMMDDHH, UTC).
STATS_ROLLED_UP = "jobkit:{namespace}:stats:rolled-up"
# Set for a moment when the namespace's jobs moved and its Jobs page viewers were told (site.stats).
JOBS_CHANGED = "jobkit:{namespace}:jobs-changed"

# Where the health collector's scan for unique keys goes on from (a SCAN cursor).
HEALTH_SCAN_CURSOR = "jobkit:{namespace}:health:scan-cursor"

# The plain-RQ host's dead letters: an index (sorted set, scored by the last failure's time) and
# one key per letter (its pickled record), both for the RQ id of the job's last attempt.
DEAD_LETTERS = "jobkit:{namespace}:dead"
DEAD_LETTER = "jobkit:{namespace}:dead:{letter_id}"
# Set while one caller retries a letter (with a TTL): the letter stays until its job is enqueued.
DEAD_LETTER_RETRYING = "jobkit:{namespace}:dead-retrying:{letter_id}"

# The plain-RQ host's skipped runs (runs not started on purpose: see ``skipped``), kept like its
# dead letters: an index scored by the time of the skip, and one key per record.
SKIPPED_RUNS = "jobkit:{namespace}:skipped"
SKIPPED_RUN = "jobkit:{namespace}:skipped:{record_id}"

# RQ job ids of the plain-RQ host. rq 2.x refuses ":" in job ids, so the logical id is
# percent-encoded; the encoding is reversible and leaves common ids readable.
RQ_JOB_ID = "{namespace}.{job_id}"


def validate_namespace(namespace: object) -> str:
	if not isinstance(namespace, str) or not NAMESPACE_PATTERN.match(namespace):
		from jobkit.engine.errors import InvalidArgument

		raise InvalidArgument(
			f"namespace {namespace!r} is not valid: use 1-128 letters, digits, '.', '_' or '-', "
			"starting with a letter or digit (a Frappe site name is a good namespace)"
		)
	return namespace


def events_channel(namespace: str) -> str:
	return EVENTS_CHANNEL.format(namespace=namespace)


def unique(namespace: str, job_id: str) -> str:
	return UNIQUE.format(namespace=namespace, job_id=job_id)


def running(namespace: str, job_id: str) -> str:
	return RUNNING.format(namespace=namespace, job_id=job_id)


def lock(namespace: str, name: str) -> str:
	return LOCK.format(namespace=namespace, name=name)


def in_flight(namespace: str) -> str:
	return IN_FLIGHT.format(namespace=namespace)


def batch(namespace: str, batch_id: str) -> dict[str, str]:
	"""Every key of one batch, by role: state, chunks, pending, ended, failures."""
	return {
		role: template.format(namespace=namespace, batch_id=batch_id)
		for role, template in (
			("state", BATCH),
			("chunks", BATCH_CHUNKS),
			("pending", BATCH_PENDING),
			("ended", BATCH_ENDED),
			("failures", BATCH_FAILURES),
		)
	}


def batches(namespace: str) -> str:
	return BATCHES.format(namespace=namespace)


def batches_writing(namespace: str) -> str:
	return BATCHES_WRITING.format(namespace=namespace)


def progress(namespace: str, run_id: str) -> str:
	return PROGRESS.format(namespace=namespace, run_id=run_id)


def progress_owner(namespace: str, owner: str) -> str:
	return PROGRESS_OWNER.format(namespace=namespace, owner=owner)


def progress_cancel(namespace: str, run_id: str) -> str:
	return PROGRESS_CANCEL.format(namespace=namespace, run_id=run_id)


def stats(namespace: str, period: str, moment: str) -> str:
	return STATS.format(namespace=namespace, period=period, moment=moment)


def stats_totals(namespace: str) -> str:
	return STATS_TOTALS.format(namespace=namespace)


def stats_methods(namespace: str) -> str:
	return STATS_METHODS.format(namespace=namespace)


def recent_runs(namespace: str, method: str) -> str:
	return RECENT_RUNS.format(namespace=namespace, method=method)


def stats_rolled_up(namespace: str) -> str:
	return STATS_ROLLED_UP.format(namespace=namespace)


def jobs_changed(namespace: str) -> str:
	return JOBS_CHANGED.format(namespace=namespace)


def health_scan_cursor(namespace: str) -> str:
	return HEALTH_SCAN_CURSOR.format(namespace=namespace)


def dead_letters(namespace: str) -> str:
	return DEAD_LETTERS.format(namespace=namespace)


def dead_letter(namespace: str, letter_id: str) -> str:
	return DEAD_LETTER.format(namespace=namespace, letter_id=letter_id)


def dead_letter_retrying(namespace: str, letter_id: str) -> str:
	return DEAD_LETTER_RETRYING.format(namespace=namespace, letter_id=letter_id)


def skipped_runs(namespace: str) -> str:
	return SKIPPED_RUNS.format(namespace=namespace)


def skipped_run(namespace: str, record_id: str) -> str:
	return SKIPPED_RUN.format(namespace=namespace, record_id=record_id)


def rq_job_id(namespace: str, job_id: str) -> str:
	return RQ_JOB_ID.format(namespace=namespace, job_id=quote(job_id, safe="-_.~!$&'()*+,;=@"))
