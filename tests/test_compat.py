"""What jobkit wrote before its packages were laid out still runs: the stored dotted paths (a batch
chunk's job and failure callback, the old module of the retry policy, the dead letter and the query)
and the classes pickled under them.

``data/old_format.json`` is what that jobkit (commit c4ae376) left in Redis: a plain job, a unique
job with a retry policy, a delayed job, a batch of three chunks and a dead letter (made by
``data/make_old_format.py``). The tests put it back into the suite's Redis and let the current
code's workers, promoter and API take it from there.
"""

import base64
import json
import pickle
from pathlib import Path

import pytest

import jobkit
from jobkit.engine import context
from tests.conftest import clear_jobkit_environment
from tests.workers import start_promoter, start_worker, stop_workers, wait_for

OLD_FORMAT = Path(__file__).parent / "data" / "old_format.json"


@pytest.fixture
def old_site(redis_url, conn, monkeypatch):
	"""The suite's Redis holding what the old layout wrote, and the plain-RQ host of its namespace."""
	data = json.loads(OLD_FORMAT.read_text())
	restore(conn, data["keys"])
	clear_jobkit_environment(monkeypatch)
	yield jobkit.configure(redis_url=redis_url, namespace=data["namespace"])
	context.reset()


def restore(conn, keys: dict) -> None:
	def raw(text: str) -> bytes:
		return base64.b64decode(text)

	for name, entry in keys.items():
		key, kind, value = raw(name), entry["type"], entry["value"]
		if kind == "string":
			conn.set(key, raw(value))
		elif kind == "hash":
			conn.hset(key, mapping={raw(field): raw(item) for field, item in value.items()})
		elif kind == "list":
			conn.rpush(key, *map(raw, value))
		elif kind == "set":
			conn.sadd(key, *map(raw, value))
		elif kind == "zset":
			conn.zadd(key, {raw(member): score for member, score in value})


def test_jobs_and_a_batch_written_by_the_old_layout_run_to_their_outcomes(old_site, redis_url, conn):
	[batch_id] = [member.decode() for member in conn.zrange("jobkit:compat:batches", 0, -1)]
	assert old_site.connection.hget(f"jobkit:compat:batch:{batch_id}", "spec")  # pickled by the old code
	worker = start_worker(redis_url, worker_class="jobkit")
	promoter = start_promoter(redis_url, namespace="compat")
	try:
		wait_for(lambda: conn.lrange("compat:plain", 0, -1), "the plain job to run")
		wait_for(lambda: conn.lrange("compat:delayed", 0, -1), "the delayed job to be promoted and run")
		runs = wait_for(
			lambda: conn.llen("compat:flaky:runs") == 2 and conn.lrange("compat:flaky:runs", 0, -1),
			"the unique job's retry to run",
		)
		assert [json.loads(run)["attempt"] for run in runs] == [1, 2]
		handle = jobkit.BatchHandle(old_site, batch_id)
		wait_for(lambda: handle.status == "Completed", "the batch to complete")
		assert handle.counts == {"total": 30, "done": 30, "failed": 0, "chunks": 3, "chunks_done": 3}
		assert {int(item) for item in conn.smembers("compat:batch:seen")} == set(range(30))
		[summary] = [json.loads(entry) for entry in conn.lrange("batch:completed", 0, -1)]
		assert summary["batch"] == batch_id and summary["done"] == 30
		assert not jobkit.is_enqueued("compat-unique")  # the key went with the run that succeeded
	finally:
		promoter.terminate()
		_, errors = promoter.communicate(timeout=30)
		stop_workers(worker)
	assert promoter.returncode == 0, errors


def test_a_dead_letter_pickled_by_the_old_layout_is_listed_redacted_and_retried(old_site, redis_url, conn):
	letters = jobkit.dead_letters()
	assert letters.ids() == ["compat-letter-run"]
	letter = letters.get("compat-letter-run")
	assert isinstance(letter, jobkit.DeadLetter)
	assert letter.error == "ValueError: boom"
	assert letter.kwargs["api_token"] != "s3cret"
	letters.retry("compat-letter-run")
	worker = start_worker(redis_url, worker_class="jobkit")
	try:
		logged = wait_for(lambda: conn.lrange("kwargs", 0, -1), "the retried letter's job to run")
	finally:
		stop_workers(worker)
	assert [json.loads(entry) for entry in logged] == [{"marker": "compat:letter", "api_token": "s3cret"}]
	assert letters.ids() == []


def test_the_old_module_paths_name_what_they_named():
	from jobkit.engine import batch_runner, deadletter, retry
	from jobkit.engine.batches import running
	from jobkit.engine.dead_letter import DeadLetter
	from jobkit.engine.retries import Retry
	from jobkit.site.doctype_query import DocTypeQuery

	assert (batch_runner.run_chunk, batch_runner.chunk_failed) == (running.run_chunk, running.chunk_failed)
	assert (retry.Retry, deadletter.DeadLetter) == (Retry, DeadLetter)
	import jobkit.doctype_query

	assert jobkit.doctype_query.DocTypeQuery is DocTypeQuery
	# A query pickled under the old path (a batch's spec over a DocType) loads as the current class.
	query = pickle.loads(
		pickle.dumps(object.__new__(DocTypeQuery), protocol=0).replace(
			b"jobkit.site.doctype_query", b"jobkit.doctype_query"
		)
	)
	assert type(query) is DocTypeQuery
