"""Enqueue throughput, from one run against one Redis: raw RQ, Frappe v15's deduplicate logic,
and jobkit's atomic unique enqueue (a new id, and a duplicate hit).

    python -m benchmarks.unique [--calls 5000]

Prints calls/s and the ratio to raw RQ enqueue. Frappe's logic is reproduced over raw RQ from
frappe/utils/background_jobs.py (v15): fetch the job, skip if queued or started, else delete it
and enqueue with the fixed id. Targets: jobkit new id >= 0.9x raw, duplicate hit >= 2x raw.
"""

import argparse
import statistics
import tempfile
import time
from importlib import metadata
from pathlib import Path
from uuid import uuid4

from rq import Queue
from rq.exceptions import NoSuchJobError
from rq.job import Job

import jobkit
from tests.redis_server import start_redis

METHOD = "benchmarks.jobs.noop"
KWARGS = {"customer": "CUST-00001", "company": "Jobkit Demo Ltd", "force": False}


ROUNDS = 7


def measure(cases, calls: int) -> list[tuple[str, float]]:
	"""Median calls/s of each case over ROUNDS interleaved rounds, so that drift in the machine's
	speed during the run hits every case alike."""
	rates: dict[str, list[float]] = {name: [] for name, _ in cases}
	per_round = max(1, calls // ROUNDS)
	for _name, fn in cases:  # warm-up
		for i in range(50):
			fn(-i - 1)
	for round_ in range(ROUNDS):
		for name, fn in cases:
			start = time.perf_counter()
			for i in range(round_ * per_round, (round_ + 1) * per_round):
				fn(i)
			rates[name].append(per_round / (time.perf_counter() - start))
	return [(name, statistics.median(rates[name])) for name, _ in cases]


def frappe_v15_enqueue(queue: Queue, job_id: str) -> None:
	try:
		job = Job.fetch(job_id, connection=queue.connection)
	except NoSuchJobError:
		job = None
	if job and job.get_status() in ("queued", "started"):
		return
	if job:
		job.delete()
	queue.enqueue_call(METHOD, kwargs=KWARGS, timeout=300, job_id=job_id)


def main() -> None:
	parser = argparse.ArgumentParser(
		description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
	)
	parser.add_argument("--calls", type=int, default=5000)
	args = parser.parse_args()

	server = start_redis(Path(tempfile.mkdtemp()))
	try:
		connection = server.client()
		jobkit.configure(redis_url=server.url, namespace="bench")
		queue = Queue("default", connection=connection)
		run = uuid4().hex[:6]
		jobkit.enqueue(METHOD, job_id="held", **KWARGS)
		frappe_v15_enqueue(queue, "frappe-held")
		cases = [
			("raw RQ enqueue (new id)", lambda i: queue.enqueue_call(METHOD, kwargs=KWARGS, timeout=300, job_id=f"raw-{run}-{i}")),
			("Frappe v15 deduplicate (new id)", lambda i: frappe_v15_enqueue(queue, f"frappe-{run}-{i}")),
			("Frappe v15 deduplicate (duplicate hit)", lambda i: frappe_v15_enqueue(queue, "frappe-held")),
			("jobkit enqueue, no job id", lambda i: jobkit.enqueue(METHOD, **KWARGS)),
			("jobkit unique enqueue (new id)", lambda i: jobkit.enqueue(METHOD, job_id=f"new-{run}-{i}", **KWARGS)),
			("jobkit unique enqueue (duplicate hit)", lambda i: jobkit.enqueue(METHOD, job_id="held", **KWARGS)),
		]  # fmt: skip
		results = measure(cases, args.calls)
		raw = results[0][1]
		versions = ", ".join(f"{package} {metadata.version(package)}" for package in ("rq", "redis"))
		print(
			f"enqueue throughput, {args.calls} calls each in {ROUNDS} interleaved rounds (median), "
			f"one process, one Redis ({versions})"
		)
		print(f"{'case':42} {'calls/s':>10} {'x raw':>7}")
		for name, rate in results:
			print(f"{name:42} {rate:10,.0f} {rate / raw:7.2f}")
	finally:
		server.stop()


if __name__ == "__main__":
	main()
