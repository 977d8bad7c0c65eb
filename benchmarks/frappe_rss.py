"""The memory of a simple Frappe job with jobkit in the site's apps and without, in one run on a
real bench: what Frappe's own ``test_memory_usage`` measures (the RSS of a work-horse running a
job of Frappe's own), read from outside to 4 kB rather than as the whole MB that test's job returns.

    cd /path/to/bench/sites
    PYTHONPATH=/path/to/jobkit ../env/bin/python -m benchmarks.frappe_rss --site SITE [--rounds 6] [--jobs 5]

Each round starts a fresh ``bench worker --burst`` for ``--jobs`` jobs of
``frappe.utils.background_jobs.test_job`` (a one-second sleep), alternately with jobkit listed in
``sites/apps.txt`` and without it (Frappe loads only the installed apps that are on the bench, so
the worker and its jobs then never import jobkit), and reads each work-horse's RSS half-way
through its job: after Frappe has set up the site and run every app's ``before_job`` hooks.
apps.txt is put back as it was, and Frappe's cached app lists cleared, however the run ends.
Target: the medians differ by at most 0.5 MB.
"""

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

import frappe

JOB = "frappe.utils.background_jobs.test_job"
JOB_SECONDS = 1.0
# When a work-horse is read: well into its job, before its end.
READ_AFTER = 0.6
QUEUE = "short"


def main() -> None:
	parser = argparse.ArgumentParser(
		description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
	)
	parser.add_argument("--site", required=True)
	parser.add_argument("--rounds", type=int, default=6, help="rounds of each case, alternated")
	parser.add_argument("--jobs", type=int, default=5, help="jobs per round")
	args = parser.parse_args()

	apps_txt = Path("apps.txt")
	listed = apps_txt.read_text()
	if "jobkit" not in listed.split():
		raise SystemExit("run this from a bench's sites folder where apps.txt lists jobkit")
	without = "\n".join(app for app in listed.splitlines() if app.strip() != "jobkit") + "\n"
	rss: dict[str, list[float]] = {"with jobkit": [], "without jobkit": []}
	frappe.init(site=args.site)
	frappe.connect()
	try:
		for round_ in range(args.rounds * 2):
			case = "with jobkit" if round_ % 2 == 0 else "without jobkit"
			apps_txt.write_text(listed if case == "with jobkit" else without)
			_forget_app_lists()
			rss[case].extend(_round(args.site, args.jobs))
	finally:
		apps_txt.write_text(listed)
		_forget_app_lists()
		frappe.destroy()
	medians = {case: statistics.median(values) for case, values in rss.items()}
	print(f"RSS of a work-horse running {JOB}, {args.rounds} rounds of {args.jobs} jobs per case, MB:")
	for case, values in rss.items():
		print(f"  {case:15} median {medians[case]:6.2f}  min {min(values):6.2f}  max {max(values):6.2f}")
	print(f"  difference     {medians['with jobkit'] - medians['without jobkit']:+.2f} (target: within 0.5)")


def _forget_app_lists() -> None:
	"""Frappe caches which apps a site has, their modules and hooks; each round reads apps.txt afresh."""
	frappe.clear_cache()
	frappe.db.commit()


def _round(site: str, jobs: int) -> list[float]:
	import psutil

	for _ in range(jobs):
		frappe.enqueue(JOB, queue=QUEUE, s=JOB_SECONDS)
	frappe.db.commit()
	command = [sys.executable, "-m", "frappe.utils.bench_helper", "frappe", "--site", site]
	worker = subprocess.Popen(
		[*command, "worker", "--queue", QUEUE, "--burst"],
		stdout=subprocess.DEVNULL,
		stderr=subprocess.DEVNULL,
	)
	seen: dict[int, float] = {}
	values: list[float] = []
	try:
		parent = psutil.Process(worker.pid)
		while worker.poll() is None:
			now = time.monotonic()
			for horse in parent.children():
				started = seen.setdefault(horse.pid, now)
				if started is not None and now - started >= READ_AFTER:
					try:
						values.append(horse.memory_info().rss / (1024 * 1024))
					except psutil.NoSuchProcess:
						pass
					seen[horse.pid] = None  # read once
			time.sleep(0.05)
	finally:
		worker.wait()
	if worker.returncode != 0 or len(values) != jobs:
		raise SystemExit(
			f"the burst worker exited {worker.returncode} after {len(values)} of {jobs} jobs read"
		)
	return values


if __name__ == "__main__":
	main()
