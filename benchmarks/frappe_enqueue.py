"""Enqueue throughput on a real bench, one run against the bench's Redis: Frappe's own path vs
jobkit (which keeps Frappe's job format: execute_job payload, site-namespaced ids).

    cd /path/to/bench/sites
    PYTHONPATH=/path/to/jobkit ../env/bin/python -m benchmarks.frappe_enqueue --site SITE [--calls 3000]

Cases: RQ's enqueue of Frappe's payload on Frappe's queue (the floor), frappe.enqueue without
and with deduplicate=True, and jobkit.enqueue without a job id, with a new unique id, and a
duplicate hit. Ratios are to frappe.enqueue without dedup; target: jobkit unique >= 1.0x.
Every job it enqueues is deleted at the end; nothing runs them.
"""

import argparse
import statistics
import time
from uuid import uuid4

import frappe

QUEUE = "short"
METHOD = "frappe.ping"


ROUNDS = 7


def measure(cases, calls: int, created: list) -> list[tuple[str, float]]:
	"""Median calls/s of each case over ROUNDS interleaved rounds, so that drift in the machine's
	speed during the run hits every case alike."""
	rates: dict[str, list[float]] = {name: [] for name, _ in cases}
	per_round = max(1, calls // ROUNDS)
	for _name, fn in cases:  # warm-up
		created.extend(fn(-i - 1) for i in range(50))
	for round_ in range(ROUNDS):
		for name, fn in cases:
			start = time.perf_counter()
			for i in range(round_ * per_round, (round_ + 1) * per_round):
				created.append(fn(i))
			rates[name].append(per_round / (time.perf_counter() - start))
	return [(name, statistics.median(rates[name])) for name, _ in cases]


def main() -> None:
	parser = argparse.ArgumentParser(
		description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
	)
	parser.add_argument("--site", required=True)
	parser.add_argument("--calls", type=int, default=3000)
	args = parser.parse_args()

	frappe.init(site=args.site)
	frappe.connect()
	try:
		from frappe.utils.background_jobs import create_job_id, execute_job, get_queue

		import jobkit

		run = uuid4().hex[:6]
		queue = get_queue(QUEUE)
		payload = {
			"site": frappe.local.site,
			"user": frappe.session.user,
			"method": METHOD,
			"event": None,
			"job_name": METHOD,
			"is_async": True,
			"kwargs": {},
		}
		jobkit.enqueue(METHOD, queue=QUEUE, job_id=f"bench-held-{run}")
		created: list = []

		def rq_enqueue(i):
			return queue.enqueue_call(
				execute_job, kwargs=payload, timeout=300, job_id=create_job_id(f"rq-{run}-{i}")
			)

		def frappe_plain(i):
			return frappe.enqueue(METHOD, queue=QUEUE)

		def frappe_dedup(i):
			return frappe.enqueue(METHOD, queue=QUEUE, job_id=f"fd-{run}-{i}", deduplicate=True)

		def jobkit_plain(i):
			return jobkit.enqueue(METHOD, queue=QUEUE)

		def jobkit_unique(i):
			return jobkit.enqueue(METHOD, queue=QUEUE, job_id=f"ju-{run}-{i}")

		def jobkit_duplicate(i):
			return jobkit.enqueue(METHOD, queue=QUEUE, job_id=f"bench-held-{run}")

		cases = [
			("RQ enqueue of Frappe's payload", rq_enqueue),
			("frappe.enqueue, no dedup", frappe_plain),
			("frappe.enqueue, deduplicate=True (new id)", frappe_dedup),
			("jobkit.enqueue, no job id", jobkit_plain),
			("jobkit.enqueue, unique (new id)", jobkit_unique),
			("jobkit.enqueue, duplicate hit", jobkit_duplicate),
		]
		results = measure(cases, args.calls, created)
		base = results[1][1]
		import rq

		print(
			f"enqueue throughput on {args.site}, {args.calls} calls each in {ROUNDS} interleaved rounds "
			f"(median), one process (rq {rq.__version__})"
		)
		print(f"{'case':44} {'calls/s':>10} {'x frappe.enqueue':>17}")
		for name, rate in results:
			print(f"{name:44} {rate:10,.0f} {rate / base:17.2f}")
	finally:
		_delete(created, queue)
		frappe.destroy()


def _delete(created: list, queue) -> None:
	ids = {getattr(item, "rq_id", None) or getattr(item, "id", None) for item in created} - {None}
	connection = queue.connection
	with connection.pipeline() as pipeline:
		for rq_id in ids:
			pipeline.lrem(queue.key, 0, rq_id)
			pipeline.delete(f"rq:job:{rq_id}")
		pipeline.execute()
	for key in connection.scan_iter(f"jobkit:{frappe.local.site}:unique:*"):
		connection.delete(key)


if __name__ == "__main__":
	main()
