"""One promoter process for the delayed-job tests: waits on a Redis barrier, then promotes."""

import argparse
import json

import jobkit


def main() -> None:
	parser = argparse.ArgumentParser()
	parser.add_argument("--url", required=True)
	parser.add_argument("--barrier", required=True)
	parser.add_argument("--rounds", type=int, default=20)
	args = parser.parse_args()
	host = jobkit.configure(redis_url=args.url, namespace="test-site")
	host.connection.incr(f"{args.barrier}:ready")
	host.connection.blpop([args.barrier], timeout=60)
	print(json.dumps({"moved": sum(jobkit.promote_due() for _ in range(args.rounds))}))


if __name__ == "__main__":
	main()
