"""The health collector's cost with 0, 10 000 and 100 000 queued jobs, in one run on one Redis.

    python -m benchmarks.health [--rounds 15]

Each size gets its own Redis server, its jobs queued (no worker runs them) on the "default" queue
of a plain-RQ host; the collector, which reads every queue, the workers, the registries, a slice
of the keyspace for unique keys, and Redis, is timed on the three in interleaved rounds. For
comparison, the run times RQ's ``Job.fetch_many`` over every queued id, what a view that lists
jobs pays.
Targets: the 100 000 case within 1.5x of the empty case, and under 50 ms.
"""

import argparse
import statistics
import tempfile
import time
from importlib import metadata
from pathlib import Path

from rq import Queue
from rq.job import Job

from jobkit.engine.health import collect
from jobkit.engine.rq_host import RQHost
from tests.redis_server import start_redis

SIZES = (0, 10_000, 100_000)
FILL_BATCH = 1000


def fill(queue, count: int) -> None:
	"""Queue ``count`` more no-op jobs, a pipeline at a time (what enqueueing them would leave)."""
	for start in range(0, count, FILL_BATCH):
		jobs = [Queue.prepare_data("benchmarks.jobs.noop") for _ in range(min(FILL_BATCH, count - start))]
		queue.enqueue_many(jobs)


def main() -> None:
	parser = argparse.ArgumentParser(
		description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
	)
	parser.add_argument("--rounds", type=int, default=15)
	args = parser.parse_args()

	# One Redis server per size, measured in interleaved rounds, so the machine's drift hits all.
	servers = [start_redis(Path(tempfile.mkdtemp())) for _ in SIZES]
	try:
		hosts = [RQHost(server.client(), "bench") for server in servers]
		for host, size in zip(hosts, SIZES, strict=True):
			fill(host.rq_queue("default"), size)
			collect(host)  # warm-up
		times: list[list[float]] = [[] for _ in SIZES]
		for _ in range(args.rounds):
			for index, host in enumerate(hosts):
				start = time.perf_counter()
				collect(host)
				times[index].append((time.perf_counter() - start) * 1000)
		fetch_all = []
		for host in hosts:
			queue = host.rq_queue("default")
			ids = queue.get_job_ids()
			start = time.perf_counter()
			Job.fetch_many(ids, connection=queue.connection)
			fetch_all.append((time.perf_counter() - start) * 1000)
	finally:
		for server in servers:
			server.stop()

	versions = ", ".join(f"{name} {metadata.version(name)}" for name in ("rq", "redis"))
	print(f"health collector vs queue length ({versions}), median of {args.rounds} interleaved rounds")
	empty = statistics.median(times[0])
	for size, measured, fetched in zip(SIZES, times, fetch_all, strict=True):
		collector = statistics.median(measured)
		print(
			f"  {size:>7,} queued  collector {collector:6.2f} ms  x{collector / empty:.2f} of empty"
			f"   Job.fetch_many(all ids) {fetched:9.1f} ms"
		)


if __name__ == "__main__":
	main()
