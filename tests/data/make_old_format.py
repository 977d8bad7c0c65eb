"""Write ``old_format.json``: what jobkit 0.1.0 as it was before its packages were laid out (commit
c4ae376) leaves in Redis, for ``tests/test_compat.py`` to run under the current code.

Run it from a checkout of that commit, against an empty Redis:

    PYTHONPATH=. python tests/data/make_old_format.py redis://127.0.0.1:6399/0 > old_format.json

It writes, in namespace ``compat``: a plain job, a unique job with a retry policy, a job delayed a
second, a batch of 3 chunks over items (its spec pickled with the old class paths, its chunk jobs
naming ``jobkit.engine.batch_runner``), and a dead letter (pickled ``jobkit.engine.deadletter``),
then every key as data that any Redis restores (no DUMP, whose format is the server's).
"""

import base64
import json
import sys

import redis

import jobkit

NAMESPACE = "compat"


def main(url: str) -> None:
	connection = redis.Redis.from_url(url)
	connection.flushall()
	jobkit.configure(redis_url=url, namespace=NAMESPACE)
	jobkit.enqueue("tests.fixtures.record", key="compat:plain", value="plain")
	jobkit.enqueue(
		"tests.fixtures.flaky",
		job_id="compat-unique",
		retry=jobkit.Retry(max_attempts=3, backoff=0.1, max_backoff=0.1, jitter=False),
		key="compat:flaky",
		failures=1,
	)
	jobkit.enqueue("tests.fixtures.record", delay=1, key="compat:delayed", value="delayed")
	jobkit.batch(
		"tests.fixtures.process_chunk",
		items=list(range(30)),
		chunk_size=10,
		max_parallel=2,
		on_complete="tests.fixtures.batch_completed",
		key="compat:batch",
	)
	host = jobkit.get_host()
	from jobkit.engine.deadletter import DeadLetter

	envelope = {
		"v": 1, "id": "compat-letter", "method": "tests.fixtures.record_kwargs", "ns": NAMESPACE,
		"kwargs": {"marker": "compat:letter", "api_token": "s3cret"}, "queue": "default",
		"timeout": 300, "user": None, "enqueued_at": 0.0, "attempt": 1, "lease": 60,
	}  # fmt: skip
	host.dead_letter(DeadLetter.of(envelope, "compat-letter-run", ValueError("boom"), "Traceback ..."))
	print(json.dumps(dump(connection), indent=1, sort_keys=True))


def dump(connection) -> dict:
	def b64(value: bytes) -> str:
		return base64.b64encode(value).decode()

	keys = {}
	for key in sorted(connection.keys("*")):
		kind = connection.type(key).decode()
		if kind == "string":
			value = b64(connection.get(key))
		elif kind == "hash":
			value = {b64(field): b64(item) for field, item in connection.hgetall(key).items()}
		elif kind == "list":
			value = [b64(item) for item in connection.lrange(key, 0, -1)]
		elif kind == "set":
			value = sorted(b64(item) for item in connection.smembers(key))
		elif kind == "zset":
			value = [[b64(member), score] for member, score in connection.zrange(key, 0, -1, withscores=True)]
		else:
			raise SystemExit(f"{key!r}: a {kind} is not dumped")
		keys[b64(key)] = {"type": kind, "value": value}
	return {"namespace": NAMESPACE, "keys": keys}


if __name__ == "__main__":
	main(sys.argv[1])
