"""Enqueue throughput, from one run against one Redis: raw RQ, Frappe v15's deduplicate logic,
and jobkit's atomic unique enqueue (a new id, and a duplicate hit).

    python -m benchmarks.unique [--calls 1000] [--rounds 15]

Each round runs every case for ``--calls`` calls, back to back, in an order rotated from round to
round; a case's figure is the median over the rounds of its speed relative to raw RQ enqueue in the
same round (paired ratios), so that the machine's drift during the run hits every case alike.
Prints calls/s (median) and that ratio. Frappe's logic is reproduced over raw RQ from
frappe/utils/background_jobs.py (v15): fetch the job, skip if queued or started, else delete it and
enqueue with the fixed id. Targets: jobkit, with or without a job id, >= 1.0x raw; a duplicate hit
>= 2x raw.
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


ROUNDS = 15


def measure(cases, calls: int, rounds: int) -> list[tuple[str, float, float]]:
	"""Each case's median calls/s and median paired ratio to the first case, over ``rounds``."""
	rates: dict[str, list[float]] = {name: [] for name, _ in cases}
	ratios: dict[str, list[float]] = {name: [] for name, _ in cases}
	for _name, fn in cases:  # warm-up
		for i in range(100):
			fn(-i - 1)
	counter = 0
	for round_ in range(rounds):
		shift = round_ % len(cases)
		this_round = {}
		for name, fn in cases[shift:] + cases[:shift]:
			start = time.perf_counter()
			for _ in range(calls):
				fn(counter)
				counter += 1
			this_round[name] = calls / (time.perf_counter() - start)
		baseline = this_round[cases[0][0]]
		for name, rate in this_round.items():
			rates[name].append(rate)
			ratios[name].append(rate / baseline)
	return [(name, statistics.median(rates[name]), statistics.median(ratios[name])) for name, _ in cases]


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
	parser.add_argument("--calls", type=int, default=1000, help="calls per case per round")
	parser.add_argument("--rounds", type=int, default=ROUNDS)
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
		results = measure(cases, args.calls, args.rounds)
		versions = ", ".join(f"{package} {metadata.version(package)}" for package in ("rq", "redis"))
		print(
			f"enqueue throughput, {args.calls} calls per case in each of {args.rounds} rotated rounds "
			f"(medians; x raw: of the rounds' paired ratios), one process, one Redis ({versions})"
		)
		print(f"{'case':42} {'calls/s':>10} {'x raw':>7}")
		for name, rate, ratio in results:
			print(f"{name:42} {rate:10,.0f} {ratio:7.2f}")
	finally:
		server.stop()


if __name__ == "__main__":
	main()
