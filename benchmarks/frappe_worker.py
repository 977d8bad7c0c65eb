"""No-op Frappe jobs per second through one `bench worker` and one `bench jobkit-worker`, in one run
on a real bench.

    cd /path/to/bench/sites
    PYTHONPATH=/path/to/jobkit ../env/bin/python -m benchmarks.frappe_worker --site SITE [--rounds 6] [--jobs 200]

Each round enqueues ``--jobs`` no-op jobs with ``frappe.enqueue`` (``frappe.ping``) on a queue no
other worker of the bench listens to (``--queue``, default ``short``: stop the bench's workers
first), then times one worker of each kind draining them (``--burst``, from its start to its exit,
so each figure includes the worker's start-up), in an order rotated from round to round. Prints
each case's median jobs/s and the median of its per-round ratio to `bench worker`. The last case
is `bench worker` with ``JOBKIT_STATS=off``: its ratio is what recording every job's stats (the
site's before_job/after_job hooks) costs a no-op Frappe job, inverted.
"""

import argparse
import os
import statistics
import subprocess
import sys
import time

import frappe

# name: (bench command, JOBKIT_STATS); "off" measures what recording every job's stats costs.
CASES = {
	"bench worker": ("worker", "on"),
	"bench jobkit-worker": ("jobkit-worker", "on"),
	"bench worker, JOBKIT_STATS=off": ("worker", "off"),
}


def main() -> None:
	parser = argparse.ArgumentParser(
		description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
	)
	parser.add_argument("--site", required=True)
	parser.add_argument("--rounds", type=int, default=6)
	parser.add_argument("--jobs", type=int, default=200)
	parser.add_argument("--queue", default="short")
	args = parser.parse_args()

	frappe.init(site=args.site)
	frappe.connect()
	rates: dict[str, list[float]] = {case: [] for case in CASES}
	ratios: dict[str, list[float]] = {case: [] for case in CASES}
	try:
		from frappe.utils.background_jobs import get_queue

		queue = get_queue(args.queue)
		if queue.count:
			raise SystemExit(f"the {args.queue!r} queue holds {queue.count} jobs: run this on an idle bench")
		names = list(CASES)
		for round_ in range(args.rounds):
			shift = round_ % len(names)
			this_round = {}
			for case in names[shift:] + names[:shift]:
				for _ in range(args.jobs):
					frappe.enqueue("frappe.ping", queue=args.queue)
				this_round[case] = args.jobs / _drain(*CASES[case], args.queue)
				if queue.count:
					raise SystemExit(f"{case} left {queue.count} jobs on the queue")
			for case, rate in this_round.items():
				rates[case].append(rate)
				ratios[case].append(rate / this_round["bench worker"])
	finally:
		frappe.destroy()
	print(
		f"no-op Frappe jobs (frappe.ping) through one worker, {args.jobs} jobs per round, {args.rounds} "
		f"rotated rounds (medians; x bench worker: of the rounds' paired ratios), Frappe {frappe.__version__}"
	)
	print(f"{'worker':24} {'jobs/s':>8} {'x bench worker':>15}")
	for case in CASES:
		print(f"{case:24} {statistics.median(rates[case]):8.1f} {statistics.median(ratios[case]):15.2f}")


def _drain(command: str, stats: str, queue: str) -> float:
	start = time.perf_counter()
	subprocess.run(
		[
			sys.executable,
			"-m",
			"frappe.utils.bench_helper",
			"frappe",
			command,
			"--queue",
			queue,
			"--burst",
			"--quiet",
		],
		check=True,
		stdout=subprocess.DEVNULL,
		env={**os.environ, "JOBKIT_STATS": stats},
	)
	return time.perf_counter() - start


if __name__ == "__main__":
	main()
