"""A batch's total time against the same chunks as plain RQ jobs, on the same workers, in one run.

    python -m benchmarks.batch [--items 100000] [--chunk-size 500] [--workers 2] [--rounds 15]

Each round runs each case, one after the other (the order rotates): plain RQ enqueues every chunk
as a job of ``benchmarks.jobs.noop_chunk`` and waits for the last to finish; jobkit runs
``jobkit.batch`` over the same items until it has ended, once with no parallelism limit (every
chunk queued at once, as plain RQ does) and once with ``max_parallel`` = 2 x workers (each ended
chunk releases the next). The workers are forking ``jobkit.engine.worker.Worker`` processes
(jobkit imported before the fork), running every kind of job. Prints the median time of each and
the median of its per-round ratios to plain RQ. Target: <= 1.10.
"""

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path

from rq import Queue
from rq.registry import FinishedJobRegistry

import jobkit
from jobkit.engine import keys
from tests.redis_server import start_redis

REPO = Path(__file__).resolve().parent.parent
METHOD = "benchmarks.jobs.noop_chunk"
NAMESPACE = "bench"


def start_workers(url: str, count: int) -> list[subprocess.Popen]:
	command = [sys.executable, "-m", "rq.cli", "worker", "--url", url, "--path", str(REPO)]
	command += ["--worker-class", "jobkit.engine.worker.Worker", "--logging_level", "WARNING", "default"]
	return [subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL) for _ in range(count)]


def wait_until(predicate, poll: float = 0.005) -> None:
	while not predicate():
		time.sleep(poll)


def plain_rq(queue: Queue, items: list, chunk_size: int) -> float:
	registry = FinishedJobRegistry(queue=queue)
	before = registry.count
	chunks = [items[start : start + chunk_size] for start in range(0, len(items), chunk_size)]
	start = time.perf_counter()
	for chunk in chunks:
		queue.enqueue_call(METHOD, kwargs={"items": chunk}, timeout=300, result_ttl=600)
	wait_until(lambda: registry.count - before >= len(chunks))
	return time.perf_counter() - start


def with_jobkit(connection, items: list, chunk_size: int, max_parallel: int) -> float:
	start = time.perf_counter()
	handle = jobkit.batch(METHOD, items=items, chunk_size=chunk_size, max_parallel=max_parallel)
	# Polled as cheaply as plain RQ's finished count: one small command (the whole state is a hash
	# of some twenty fields, and the poller shares the two cores with the workers).
	state_key = keys.batch(NAMESPACE, handle.id)["state"]
	wait_until(lambda: connection.hexists(state_key, "finished_at"))
	elapsed = time.perf_counter() - start
	state = handle.state()
	assert (state["status"], state["done"]) == ("Completed", len(items)), state
	return elapsed


def main() -> None:
	parser = argparse.ArgumentParser(
		description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
	)
	parser.add_argument("--items", type=int, default=100_000)
	parser.add_argument("--chunk-size", type=int, default=500)
	parser.add_argument("--workers", type=int, default=2)
	parser.add_argument("--rounds", type=int, default=15)
	args = parser.parse_args()

	server = start_redis(Path(tempfile.mkdtemp()))
	workers = start_workers(server.url, args.workers)
	try:
		connection = server.client()
		jobkit.configure(redis_url=server.url, namespace=NAMESPACE)
		queue = Queue("default", connection=connection)
		items = list(range(args.items))
		wait_until(lambda: len(connection.keys("rq:worker:*")) >= args.workers, 0.1)
		plain_rq(queue, items[: args.chunk_size * 4], args.chunk_size)  # warm-up
		limited = f"jobkit.batch, max_parallel={2 * args.workers}"
		cases = {
			"plain RQ jobs": lambda: plain_rq(queue, items, args.chunk_size),
			"jobkit.batch, no limit": lambda: with_jobkit(connection, items, args.chunk_size, None),
			limited: lambda: with_jobkit(connection, items, args.chunk_size, 2 * args.workers),
		}
		times: dict[str, list[float]] = {name: [] for name in cases}
		names = list(cases)
		for round_ in range(args.rounds):
			for name in names[round_ % len(names) :] + names[: round_ % len(names)]:
				times[name].append(cases[name]())
	finally:
		for worker in workers:
			worker.terminate()
		for worker in workers:
			worker.wait(timeout=60)
		server.stop()

	versions = ", ".join(f"{name} {metadata.version(name)}" for name in ("rq", "redis"))
	chunks = -(-args.items // args.chunk_size)
	print(
		f"{args.items:,} items in {chunks} chunks of {args.chunk_size}, {args.workers} workers ({versions})"
	)
	# Each round runs every case back to back, so a round's ratio is measured under the same load:
	# the median of the rounds' ratios is robust to the machine's drift from one round to the next.
	plain = times["plain RQ jobs"]
	for name, values in times.items():
		ratio = statistics.median(value / base for value, base in zip(values, plain, strict=True))
		print(
			f"  {name:32} median {statistics.median(values):6.2f}s  "
			f"({', '.join(f'{v:.2f}' for v in values)})  x{ratio:.2f}"
		)


if __name__ == "__main__":
	main()
