"""The memory of a simple Frappe job with jobkit in the site's apps and without, in one run on a
real bench: what Frappe's own ``test_memory_usage`` measures (``frappe.utils.data.
_get_rss_memory_usage`` run as a job, its RSS in MB).

    cd /path/to/bench/sites
    PYTHONPATH=/path/to/jobkit ../env/bin/python -m benchmarks.frappe_rss --site SITE [--rounds 6] [--jobs 5]

Each round starts a fresh ``bench worker --burst`` for ``--jobs`` such jobs, alternately with
jobkit listed in ``sites/apps.txt`` and without it (Frappe loads only the installed apps that are
on the bench, so the worker and its jobs then never import jobkit), and reads each job's result.
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

JOB = "frappe.utils.data._get_rss_memory_usage"
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
	print(f"RSS of a simple Frappe job ({JOB}), {args.rounds} rounds of {args.jobs} jobs per case, MB:")
	for case, values in rss.items():
		print(f"  {case:15} median {medians[case]:6.2f}  min {min(values):6.2f}  max {max(values):6.2f}")
	print(f"  difference     {medians['with jobkit'] - medians['without jobkit']:+.2f} (target: within 0.5)")


def _forget_app_lists() -> None:
	"""Frappe caches which apps a site has, their modules and hooks; each round reads apps.txt afresh."""
	frappe.clear_cache()
	frappe.db.commit()


def _round(site: str, jobs: int) -> list[float]:
	from frappe.utils.background_jobs import get_queue
	from rq.job import Job

	queue = get_queue(QUEUE)
	enqueued = [frappe.enqueue(JOB, queue=QUEUE) for _ in range(jobs)]
	frappe.db.commit()
	worker = [sys.executable, "-m", "frappe.utils.bench_helper", "frappe", "--site", site]
	subprocess.run([*worker, "worker", "--queue", QUEUE, "--burst"], check=True, capture_output=True)
	values = []
	for job in enqueued:
		job = Job.fetch(job.id, connection=queue.connection)
		for _ in range(50):
			if job.get_status() == "finished":
				break
			time.sleep(0.1)
		values.append(float(job.latest_result().return_value))
		job.delete()
	return values


if __name__ == "__main__":
	main()
