"""One process contending for a jobkit lock: increment a shared counter under it, many times.

Run as ``python -m tests.lock_race --url URL --iterations N --barrier KEY``. Inside the lock it
marks itself present with SETNX; finding the mark already set means two owners overlapped. It
prints a JSON summary.
"""

import argparse
import json

import jobkit


def main() -> None:
	parser = argparse.ArgumentParser()
	parser.add_argument("--url", required=True)
	parser.add_argument("--iterations", type=int, required=True)
	parser.add_argument("--barrier", required=True)
	args = parser.parse_args()

	connection = jobkit.configure(redis_url=args.url, namespace="test-site").connection
	connection.incr(f"{args.barrier}:ready")
	connection.blpop([args.barrier], timeout=60)
	overlaps = 0
	for _ in range(args.iterations):
		with jobkit.lock("counter", ttl=30, wait=30):
			if not connection.setnx("inside", 1):
				overlaps += 1
			# A read-modify-write that loses updates unless the lock excludes the other process.
			value = int(connection.get("counter") or 0)
			connection.set("counter", value + 1)
			connection.delete("inside")
	print(json.dumps({"overlaps": overlaps}))


if __name__ == "__main__":
	main()
