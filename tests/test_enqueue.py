import pytest
from rq import Queue
from rq.job import Job
from rq.registry import FailedJobRegistry

import jobkit
from tests.conftest import NAMESPACE, read_log
from tests.workers import request_stop, run_burst_worker, start_worker, wait_exit, wait_for


@pytest.mark.parametrize("worker_class", ["fork", "simple"])
def test_job_runs_in_a_real_worker(host, conn, redis_url, worker_class):
	handle = jobkit.enqueue("tests.fixtures.record", key="out", value={"n": 1})
	assert handle.status == "queued"

	run_burst_worker(redis_url, worker_class=worker_class)

	assert read_log(conn, "out") == [{"n": 1}]
	assert handle.status == "finished"
	assert handle.fetch().return_value() == "recorded"


def test_a_callable_is_accepted_like_its_dotted_path(host, conn, redis_url):
	from tests.fixtures import record

	handle = jobkit.enqueue(record, key="out", value="by callable")
	assert handle.method == "tests.fixtures.record"
	run_burst_worker(redis_url)
	assert read_log(conn, "out") == ["by callable"]


def test_static_method_of_a_module_level_class_runs(host, redis_url):
	from tests.fixtures import Tasks

	handle = jobkit.enqueue(Tasks.static_add, a=2, b=3)
	run_burst_worker(redis_url)
	assert handle.fetch().return_value() == 5


def test_the_job_sees_its_own_context(host, conn, redis_url):
	handle = jobkit.enqueue("tests.fixtures.record_context", queue="short", job_id="ctx-1", key="ctx")
	run_burst_worker(redis_url, queues=("short",))
	[seen] = read_log(conn, "ctx")
	assert seen["id"] == "ctx-1"
	assert seen["rq_id"] == handle.rq_id
	assert seen["method"] == "tests.fixtures.record_context"
	assert seen["queue"] == "short"
	assert seen["namespace"] == NAMESPACE
	assert seen["attempt"] == 1
	assert jobkit.current_job() is None


@pytest.mark.parametrize(("queue", "expected"), [("short", 300), ("default", 300), ("long", 1500)])
def test_queue_default_timeouts_follow_frappe(host, queue, expected):
	handle = jobkit.enqueue("tests.fixtures.add", queue=queue, a=1, b=1)
	assert handle.fetch().timeout == expected
	assert handle.fetch().origin == queue


def test_explicit_timeout_wins_and_rounds_up(host):
	assert jobkit.enqueue("tests.fixtures.add", timeout=45, a=1, b=1).fetch().timeout == 45
	assert jobkit.enqueue("tests.fixtures.add", timeout=0.2, a=1, b=1).fetch().timeout == 1


def test_configured_queues_and_timeouts(no_host, redis_url):
	jobkit.configure(redis_url=redis_url, queues={"reports": 7200})
	assert jobkit.enqueue("tests.fixtures.add", queue="reports", a=1, b=1).fetch().timeout == 7200
	with pytest.raises(jobkit.UnknownQueue, match="'reports'"):
		jobkit.enqueue("tests.fixtures.add", queue="default", a=1, b=1)


def test_job_id_is_namespaced(no_host, redis_url, conn):
	jobkit.configure(redis_url=redis_url, namespace="site-a")
	first = jobkit.enqueue("tests.fixtures.add", job_id="sync::CUST-1", a=1, b=1)
	jobkit.configure(redis_url=redis_url, namespace="site-b")
	second = jobkit.enqueue("tests.fixtures.add", job_id="sync::CUST-1", a=1, b=1)

	assert first.id == second.id == "sync::CUST-1"
	assert first.rq_id != second.rq_id
	assert first.rq_id.startswith("site-a.") and second.rq_id.startswith("site-b.")
	# rq 2.x refuses ":" in job ids; the id must be valid on both RQ lines.
	assert ":" not in first.rq_id
	assert Queue("default", connection=conn).job_ids == [first.rq_id, second.rq_id]


def test_generated_job_ids_are_distinct(host):
	ids = {jobkit.enqueue("tests.fixtures.add", a=1, b=1).rq_id for _ in range(20)}
	assert len(ids) == 20


def test_at_front_puts_the_job_first(host, conn):
	later = jobkit.enqueue("tests.fixtures.add", a=1, b=1)
	urgent = jobkit.enqueue("tests.fixtures.add", at_front=True, a=2, b=2)
	assert Queue("default", connection=conn).job_ids == [urgent.rq_id, later.rq_id]


def test_enqueue_after_commit_without_a_transaction_enqueues_at_once(host, conn):
	handle = jobkit.enqueue("tests.fixtures.add", enqueue_after_commit=True, a=1, b=1)
	assert handle.status == "queued"
	assert Queue("default", connection=conn).job_ids == [handle.rq_id]


def test_success_callback_runs_in_the_worker(host, conn, redis_url):
	handle = jobkit.enqueue("tests.fixtures.add", on_success="tests.fixtures.on_success", a=2, b=3)
	run_burst_worker(redis_url)
	assert read_log(conn, "callbacks") == [{"event": "success", "result": 5, "rq_id": handle.rq_id}]


def test_failure_callback_runs_and_the_job_is_failed(host, conn, redis_url):
	handle = jobkit.enqueue("tests.fixtures.fail", on_failure="tests.fixtures.on_failure", message="boom")
	run_burst_worker(redis_url)
	assert read_log(conn, "callbacks") == [
		{"event": "failure", "error": "ValueError: boom", "rq_id": handle.rq_id}
	]
	assert handle.status == "failed"
	assert handle.rq_id in FailedJobRegistry("default", connection=conn).get_job_ids()


def test_a_broken_failure_callback_does_not_hide_the_job_error(host, conn, redis_url):
	handle = jobkit.enqueue(
		"tests.fixtures.fail", on_failure="tests.fixtures.on_failure_broken", message="real"
	)
	run_burst_worker(redis_url)
	assert handle.status == "failed"
	assert "ValueError: real" in Job.fetch(handle.rq_id, connection=conn).latest_result().exc_string


def test_a_job_enqueues_more_work_with_no_setup_in_the_worker(host, conn, redis_url):
	jobkit.enqueue("tests.fixtures.enqueue_child", key="chain")
	run_burst_worker(redis_url)  # the worker environment has no JOBKIT_* variables
	assert read_log(conn, "chain") == ["child"]


def test_now_runs_in_this_process_through_the_runner(host, conn):
	handle = jobkit.enqueue("tests.fixtures.add", now=True, on_success="tests.fixtures.on_success", a=4, b=5)
	assert handle.result == 9
	assert handle.status == "finished"
	assert Queue("default", connection=conn).count == 0
	assert read_log(conn, "callbacks") == [{"event": "success", "result": 9, "rq_id": None}]


@pytest.mark.parametrize("spelling", ["is_async", "async"])
def test_is_async_false_runs_in_this_process_as_frappe_enqueue_does(host, conn, spelling):
	handle = jobkit.enqueue("tests.fixtures.add", a=2, b=3, **{spelling: False})
	assert (handle.status, handle.result) == ("finished", 5)
	assert Queue("default", connection=conn).count == 0
	queued = jobkit.enqueue("tests.fixtures.add", a=2, b=3, **{spelling: True})
	assert queued.status == "queued"
	assert Queue("default", connection=conn).count == 1


def test_long_running_worker_runs_jobs_and_stops_cleanly(host, conn, redis_url):
	worker = start_worker(redis_url, queues=("default",))
	try:
		first = jobkit.enqueue("tests.fixtures.record", key="live", value="first")
		wait_for(lambda: conn.llen("live") == 1, "the first job")

		# A job still running at SIGTERM is finished before the worker exits (warm shutdown).
		running = jobkit.enqueue("tests.fixtures.wait_for_key", key="release", record_to="steps")
		wait_for(lambda: read_log(conn, "steps") == ["started"], "the blocking job to start")
		request_stop(worker)
		conn.rpush("release", "go")
		code, output = wait_exit(worker)
	finally:
		if worker.poll() is None:
			worker.kill()

	assert code == 0, output
	assert first.status == "finished"
	assert running.status == "finished"
	assert read_log(conn, "steps") == ["started", "finished"]

	after = jobkit.enqueue("tests.fixtures.add", a=1, b=1)
	assert after.status == "queued"


@pytest.mark.parametrize("job_id", [None, "stored-data-1"], ids=["plain", "unique"])
@pytest.mark.parametrize("size", [10, 5000], ids=["small", "large"])
def test_a_jobs_data_is_stored_as_rq_reads_it_and_runs(host, conn, redis_url, job_id, size):
	import zlib

	from jobkit.engine import rqjob

	value = "x" * size
	handle = jobkit.enqueue("tests.fixtures.record", job_id=job_id, key="stored", value=value)
	stored = conn.hget(Job.key_for(handle.rq_id), "data")
	data = Job.fetch(handle.rq_id, connection=conn).data  # as RQ reads it back
	# Up to PLAIN_DATA_BYTES as it is (no zlib set-up per enqueue), a larger one compressed, as RQ does.
	if size < rqjob.PLAIN_DATA_BYTES:
		assert stored == data
	else:
		assert len(data) > rqjob.PLAIN_DATA_BYTES
		assert zlib.decompress(stored) == data
	assert Job.fetch(handle.rq_id, connection=conn).kwargs == handle.fetch().kwargs

	run_burst_worker(redis_url)
	assert read_log(conn, "stored") == [value]
	assert handle.status == "finished"
