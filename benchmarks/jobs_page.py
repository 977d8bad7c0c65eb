"""The Jobs page's server calls on an idle site and with 100 000 queued jobs and 1 000 scheduled, on
a real bench, in one run.

    cd /path/to/bench/sites
    PYTHONPATH=/path/to/jobkit ../env/bin/python -m benchmarks.jobs_page --site SITE [--rounds 4]

Run it on a bench whose workers are stopped (the queued jobs must stay queued). Each round times
every call ``--calls`` times (median) in three states of ``--queue``: empty; 1 000 queued no-op
Frappe jobs (written as ``frappe.enqueue`` writes them, in pipelined batches) and ``--scheduled``
delayed jobkit jobs; ``--queued`` queued and the same scheduled; and empties it after each. Prints
each call's median time per state and the medians of the rounds' ratios, the big state against
the empty and against the small one: flat in queue length is a ratio to the small state near 1
(the scheduled table fills up to its 50 rows between empty and small).
"""

import argparse
import statistics
import time

import frappe

# The small state: as many queued jobs as scheduled, so the big one differs by its queue length only.
SMALL = 1_000
CALLS = ("overview", "stats 1h", "stats 24h", "search by id", "search by method")


def timed(fn, calls: int) -> float:
	times = []
	for _ in range(calls):
		start = time.perf_counter()
		fn()
		times.append(time.perf_counter() - start)
	return statistics.median(times)


def measure(calls: int, probe_id: str) -> dict[str, float]:
	from jobkit.site import jobs_page

	cases = {
		"overview": jobs_page.overview,
		"stats 1h": lambda: jobs_page.stats_for("1h"),
		"stats 24h": lambda: jobs_page.stats_for("24h"),
		"search by id": lambda: jobs_page.search(probe_id),
		"search by method": lambda: jobs_page.search("frappe.ping"),
	}
	return {name: timed(cases[name], calls) for name in CALLS}


def load(queue_name: str, queued: int, scheduled: int) -> list[str]:
	"""``queued`` Frappe jobs of ``frappe.ping`` (as frappe.enqueue makes them) and ``scheduled``
	delayed jobkit jobs; their RQ ids."""
	from rq import Queue

	import jobkit
	from jobkit.site.host import host

	queue: Queue = host.rq_queue(queue_name)
	ids = []
	for start in range(0, queued, 5000):
		data = [
			Queue.prepare_data(
				"frappe.utils.background_jobs.execute_job",
				kwargs={
					"site": frappe.local.site,
					"user": "Administrator",
					"method": "frappe.ping",
					"event": None,
					"job_name": "frappe.ping",
					"is_async": True,
					"kwargs": {},
				},
				timeout=300,
			)
			for _ in range(min(5000, queued - start))
		]
		with host.connection.pipeline() as pipe:
			ids += [job.id for job in queue.enqueue_many(data, pipeline=pipe)]
			pipe.execute()
	for _ in range(scheduled):
		ids.append(jobkit.enqueue("frappe.ping", queue=queue_name, delay=3600).rq_id)
	return ids


def unload(queue_name: str, ids: list[str]) -> None:
	from rq.job import Job
	from rq.registry import ScheduledJobRegistry

	from jobkit.site.host import host

	queue = host.rq_queue(queue_name)
	connection = host.connection
	for start in range(0, len(ids), 5000):
		chunk = ids[start : start + 5000]
		with connection.pipeline() as pipe:
			pipe.delete(*[Job.key_for(rq_id) for rq_id in chunk])
			pipe.zrem(ScheduledJobRegistry(queue=queue).key, *chunk)
			pipe.execute()
	connection.delete(queue.key)


def main() -> None:
	parser = argparse.ArgumentParser(
		description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
	)
	parser.add_argument("--site", required=True)
	parser.add_argument("--rounds", type=int, default=4)
	parser.add_argument("--calls", type=int, default=30)
	parser.add_argument("--queued", type=int, default=100_000)
	parser.add_argument("--scheduled", type=int, default=1_000)
	parser.add_argument("--queue", default="long")
	args = parser.parse_args()

	frappe.init(site=args.site)
	frappe.connect()
	try:
		from jobkit.site.host import host

		queue = host.rq_queue(args.queue)
		if queue.count:
			raise SystemExit(f"the {args.queue!r} queue holds {queue.count} jobs: run this on an idle bench")
		states = {
			"empty": (0, 0),
			f"{SMALL:,} + {args.scheduled:,}": (SMALL, args.scheduled),
			f"{args.queued:,} + {args.scheduled:,}": (args.queued, args.scheduled),
		}
		times: dict[str, dict[str, list[float]]] = {state: {name: [] for name in CALLS} for state in states}
		measure(3, "warm-up")
		for _ in range(args.rounds):
			for state, (queued, scheduled) in states.items():
				ids = load(args.queue, queued, scheduled)
				try:
					if queue.count != queued:
						raise SystemExit(f"loading left {queue.count} jobs on {args.queue}, not {queued}")
					probe = ids[len(ids) // 2] if ids else "no-such-job"
					for name, value in measure(args.calls, probe).items():
						times[state][name].append(value)
				finally:
					unload(args.queue, ids)
	finally:
		frappe.destroy()
	names = list(states)
	print(
		f"the Jobs page's calls, {args.calls} calls a state, {args.rounds} rounds, on {args.queue}: queued + "
		f"scheduled jobs (medians; ratios: of the rounds' paired times), Frappe {frappe.__version__}"
	)
	print(
		f"{'call':18}" + "".join(f"{state + ' ms':>20}" for state in names) + f"{'x empty':>9}{'x small':>9}"
	)
	for name in CALLS:
		cells = "".join(f"{statistics.median(times[state][name]) * 1000:20.2f}" for state in names)
		big, small, empty = times[names[2]][name], times[names[1]][name], times[names[0]][name]
		print(f"{name:18}{cells}{_ratio(big, empty):9.2f}{_ratio(big, small):9.2f}")


def _ratio(values: list[float], bases: list[float]) -> float:
	return statistics.median(value / base for value, base in zip(values, bases, strict=True))


if __name__ == "__main__":
	main()
