"""One racing process for the unique-job tests: enqueue one job id many times, report outcomes.

Run as ``python -m tests.race --url URL --job-id ID ...``; waits on a Redis barrier so that every
racer starts together, then prints a JSON summary.
"""

import argparse
import json
import time
from uuid import uuid4

import jobkit


def main() -> None:
	parser = argparse.ArgumentParser()
	parser.add_argument("--url", required=True)
	parser.add_argument("--namespace", default="test-site")
	parser.add_argument("--job-id", required=True)
	parser.add_argument("--unique", default="until_executed")
	parser.add_argument("--method", default="tests.fixtures.add")
	parser.add_argument("--attempts", type=int, default=0, help="stop after this many calls")
	parser.add_argument("--seconds", type=float, default=0, help="or after this long")
	parser.add_argument("--pause", type=float, default=0, help="pause between calls")
	parser.add_argument("--barrier", required=True)
	args = parser.parse_args()

	host = jobkit.configure(redis_url=args.url, namespace=args.namespace)
	host.connection.incr(f"{args.barrier}:ready")
	host.connection.blpop([args.barrier], timeout=60)
	claimed, duplicates, errors = [], 0, []
	deadline = time.monotonic() + args.seconds
	calls = 0
	while (args.attempts and calls < args.attempts) or (args.seconds and time.monotonic() < deadline):
		calls += 1
		kwargs = {"a": 1, "b": 1} if args.method == "tests.fixtures.add" else {"nonce": uuid4().hex}
		try:
			handle = jobkit.enqueue(args.method, job_id=args.job_id, unique=args.unique, **kwargs)
		except Exception as e:
			errors.append(f"{type(e).__name__}: {e}")
			continue
		if handle.duplicate:
			duplicates += 1
		else:
			claimed.append(handle.rq_id)
		if args.pause:
			time.sleep(args.pause)
	print(json.dumps({"calls": calls, "claimed": claimed, "duplicates": duplicates, "errors": errors}))


if __name__ == "__main__":
	main()
