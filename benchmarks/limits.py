"""What flow control costs and gives (``jobkit.Limit``, ``jobkit.Rate``, fair shares), in one run.

    python -m benchmarks.limits [--rounds 3] [--backlog 10000]

1. Rate-limited throughput against the limit: ``--rate-jobs`` no-op jobs under
   ``Rate(n=20, per=5)`` (4 a second) drained by 4 forking jobkit workers; the steady rate (the jobs
   after the first window, over the time from the first start to the last) against n/per, and the
   most starts seen in any window (never above n). Goal: at least 0.95 of the limit.
2. Overhead, paired rounds: the enqueue of a limited job against an unlimited one, and both
   against raw RQ's ``Queue.enqueue`` (in-process); a no-op job's time through one forking jobkit
   worker with a limit that never closes against none.
3. Fairness: the wait of one job of site B enqueued behind ``--backlog`` no-op jobs of site A on
   one queue, drained by 2 forking jobkit workers, without and with fair shares: B's wait in seconds
   and how many of A's jobs started before it.
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path

from rq import Queue

import jobkit
from jobkit.engine import context
from tests.measures import most_in_any_window
from tests.redis_server import start_redis

REPO = Path(__file__).resolve().parent.parent
RATE_N, RATE_PER = 20, 5.0


def start_workers(url: str, count: int, queue: str = "default") -> list[subprocess.Popen]:
	command = [sys.executable, "-m", "rq.cli", "worker", "--url", url, "--path", str(REPO)]
	command += ["--worker-class", "jobkit.engine.worker.Worker", "--logging_level", "WARNING", queue]
	env = {**os.environ, "PYTHONPATH": str(REPO)}
	return [subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.DEVNULL) for _ in range(count)]


def stop(workers: list[subprocess.Popen]) -> None:
	for worker in workers:
		worker.terminate()
	for worker in workers:
		worker.wait(timeout=60)


def wait_registered(connection, count: int) -> None:
	while len(connection.keys("rq:worker:*")) < count:
		time.sleep(0.05)


def rate_round(url: str, connection, jobs: int) -> tuple[float, int]:
	"""(steady rate / limit, most starts in any window) of one drain of ``jobs`` rate-limited jobs."""
	connection.flushall()
	jobkit.configure(redis_url=url, namespace="bench")
	workers = start_workers(url, 4)
	try:
		wait_registered(connection, 4)
		rate = jobkit.Rate("bench-api", RATE_N, per=RATE_PER)
		for _ in range(jobs):
			jobkit.enqueue("benchmarks.jobs.record_start", key="starts", rate=rate)
		while connection.llen("starts") < jobs:
			time.sleep(0.05)
	finally:
		stop(workers)
	starts = sorted(float(value) for value in connection.lrange("starts", 0, -1))
	steady = (jobs - RATE_N) / (starts[-1] - starts[0])
	return steady / (RATE_N / RATE_PER), most_in_any_window(starts, RATE_PER)


def enqueue_seconds(count: int, case: str) -> float:
	"""Seconds for ``count`` enqueues of a no-op job: "raw" through RQ's own ``Queue.enqueue``,
	"unlimited" and "limited" through ``jobkit.enqueue``."""
	if case == "raw":
		queue = Queue("default", connection=jobkit.get_host().connection)
		start = time.perf_counter()
		for _ in range(count):
			queue.enqueue("benchmarks.jobs.noop", shop="acme")
		return time.perf_counter() - start
	options = {"concurrency": jobkit.Limit("bench::{shop}", 1_000_000)} if case == "limited" else {}
	start = time.perf_counter()
	for _ in range(count):
		jobkit.enqueue("benchmarks.jobs.noop", shop="acme", **options)
	return time.perf_counter() - start


def drain_seconds(url: str, connection, jobs: int, limited: bool) -> float:
	connection.flushall()
	jobkit.configure(redis_url=url, namespace="bench")
	options = {"concurrency": jobkit.Limit("bench::{shop}", 1_000_000)} if limited else {}
	workers = start_workers(url, 1)
	try:
		wait_registered(connection, 1)
		start = time.perf_counter()
		for _ in range(jobs):
			jobkit.enqueue("benchmarks.jobs.noop", shop="acme", **options)
		queue = Queue("default", connection=connection)
		from rq.registry import FinishedJobRegistry

		finished = FinishedJobRegistry(queue=queue)
		while finished.count < jobs:
			time.sleep(0.01)
		return time.perf_counter() - start
	finally:
		stop(workers)


def fairness(url: str, connection, backlog: int, fair: bool) -> tuple[float, int]:
	"""(seconds site B's one job waited, site A's jobs started before it)."""
	connection.flushall()
	options = {"fair_shares": {"default": 1}} if fair else {}
	jobkit.configure(redis_url=url, namespace="site-a", **options)
	for _ in range(backlog):
		jobkit.enqueue("benchmarks.jobs.record_start", key="a")
	jobkit.configure(redis_url=url, namespace="site-b", **options)
	enqueued = time.time()
	jobkit.enqueue("benchmarks.jobs.record_start", key="b")
	workers = start_workers(url, 2)
	try:
		while not connection.llen("b"):
			time.sleep(0.01)
		started = float(connection.lindex("b", 0))
	finally:
		stop(workers)
	before = sum(1 for value in connection.lrange("a", 0, -1) if float(value) < started)
	return started - enqueued, before


def main() -> None:
	parser = argparse.ArgumentParser(
		description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
	)
	parser.add_argument("--rounds", type=int, default=3)
	parser.add_argument("--rate-jobs", type=int, default=200)
	parser.add_argument("--enqueues", type=int, default=3000)
	parser.add_argument("--drain-jobs", type=int, default=400)
	parser.add_argument("--backlog", type=int, default=10_000)
	parser.add_argument("--enqueue-rounds", type=int, default=8)
	parser.add_argument(
		"--parts", default="rate,overhead,fairness", help="which parts to run (comma-separated)"
	)
	args = parser.parse_args()
	parts = set(args.parts.split(","))
	server = start_redis(Path(tempfile.mkdtemp()))
	versions = ", ".join(f"{name} {metadata.version(name)}" for name in ("rq", "redis"))
	print(f"jobkit flow control ({versions}), {args.rounds} rounds\n")
	try:
		connection = server.client()
		if "rate" in parts:
			rate_part(server.url, connection, args)
		if "overhead" in parts:
			overhead_part(server.url, connection, args)
		if "fairness" in parts:
			for fair in (False, True):
				wait, before = fairness(server.url, connection, args.backlog, fair)
				print(
					f"site B's one job behind site A's {args.backlog}, fair shares {'on ' if fair else 'off'}: "
					f"waited {wait:.2f} s, behind {before} of A's jobs"
				)
	finally:
		context.reset()
		server.stop()


def rate_part(url: str, connection, args) -> None:
	results = [rate_round(url, connection, args.rate_jobs) for _ in range(args.rounds)]
	ratios = [ratio for ratio, _ in results]
	print(
		f"rate {RATE_N} per {RATE_PER:g} s, {args.rate_jobs} jobs, 4 workers: steady rate / limit "
		f"median {statistics.median(ratios):.3f} (rounds {', '.join(f'{r:.3f}' for r in ratios)}); "
		f"most starts in any window {max(most for _, most in results)} (limit {RATE_N})"
	)


def overhead_part(url: str, connection, args) -> None:
	enqueue_ratios, raw_ratios, drain_ratios = [], {"unlimited": [], "limited": []}, []
	cases = ["raw", "unlimited", "limited"]
	for round_ in range(args.enqueue_rounds):
		connection.flushall()
		jobkit.configure(redis_url=url, namespace="bench")
		order = cases[round_ % 3 :] + cases[: round_ % 3]  # each case first in turn
		times = {case: enqueue_seconds(args.enqueues, case) for case in order}
		enqueue_ratios.append(times["limited"] / times["unlimited"])
		for case, ratios in raw_ratios.items():
			ratios.append(times[case] / times["raw"])
	for round_ in range(args.rounds):
		order = (False, True) if round_ % 2 == 0 else (True, False)
		times = {limited: drain_seconds(url, connection, args.drain_jobs, limited) for limited in order}
		drain_ratios.append(times[True] / times[False])
	print(
		f"enqueue, limited / unlimited: median x{statistics.median(enqueue_ratios):.2f} "
		f"(rounds {', '.join(f'{r:.2f}' for r in enqueue_ratios)})"
	)
	for case, ratios in raw_ratios.items():
		print(f"enqueue, {case} jobkit / raw RQ Queue.enqueue: median x{statistics.median(ratios):.2f}")
	print(
		f"per job through a worker, limited / unlimited: median x{statistics.median(drain_ratios):.2f} "
		f"(rounds {', '.join(f'{r:.2f}' for r in drain_ratios)})"
	)


if __name__ == "__main__":
	main()
