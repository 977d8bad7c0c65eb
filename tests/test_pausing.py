"""Pausing a queue: jobkit's workers start no job from it, on any host and across restarts, until
it is resumed; running jobs finish; stock RQ workers are named, as they go on."""

import pytest
from rq import Queue

import jobkit
from tests.conftest import read_log
from tests.workers import run_burst_worker, start_worker, stop_workers, wait_for


@pytest.mark.parametrize("worker_class", ["jobkit", "jobkit simple"])
def test_a_paused_queue_starts_no_job_until_it_is_resumed_and_the_others_go_on(
	host, conn, redis_url, worker_class
):
	held = jobkit.enqueue("tests.fixtures.record", queue="short", key="ran", value="short")
	other = jobkit.enqueue("tests.fixtures.record", queue="default", key="ran", value="default")
	assert jobkit.pause_queue("short") == []
	assert jobkit.paused_queues() == ["short"]

	run_burst_worker(redis_url, queues=("short", "default"), worker_class=worker_class)
	run_burst_worker(redis_url, queues=("short",), worker_class=worker_class)  # a restarted worker too

	assert read_log(conn, "ran") == ["default"]
	assert (held.status, other.status) == ("queued", "finished")
	jobkit.enqueue("tests.fixtures.record", queue="short", key="ran", value="enqueued while paused")
	jobkit.resume_queue("short")
	assert jobkit.paused_queues() == []
	run_burst_worker(redis_url, queues=("short",), worker_class=worker_class)
	assert read_log(conn, "ran") == ["default", "short", "enqueued while paused"]


def test_a_running_job_finishes_and_a_waiting_worker_starts_the_next_only_once_resumed(host, conn, redis_url):
	worker = start_worker(redis_url, queues=("short",), worker_class="jobkit")
	try:
		running = jobkit.enqueue("tests.fixtures.wait_for_key", queue="short", key="go", record_to="log")
		wait_for(lambda: read_log(conn, "log") == ["started"], "the first job to start")
		jobkit.pause_queue("short")
		waiting = jobkit.enqueue("tests.fixtures.record", queue="short", key="ran", value="next")
		conn.rpush("go", "1")
		wait_for(lambda: running.status == "finished", "the running job to finish")
		assert waiting.status == "queued"
		assert read_log(conn, "ran") == []
		jobkit.resume_queue("short")
		wait_for(lambda: waiting.status == "finished", "the waiting job to start once resumed")
	finally:
		stop_workers(worker)


def test_pausing_names_the_live_workers_that_do_not_honour_it(host, conn, redis_url):
	stock = start_worker(redis_url, queues=("short",), worker_class="fork")
	ours = start_worker(redis_url, queues=("short",), worker_class="jobkit")
	try:
		rq_queue = Queue(jobkit.get_host().rq_queue("short").name, connection=conn)
		from rq.worker import Worker

		wait_for(lambda: len(Worker.all(queue=rq_queue)) == 2, "both workers to register")
		by_pid = {worker.pid: worker.name for worker in Worker.all(queue=rq_queue)}
		assert jobkit.pause_queue("short") == [by_pid[stock.pid]]
	finally:
		jobkit.resume_queue("short")
		stop_workers(stock, ours)


def test_an_unknown_queue_is_refused_with_the_ones_there_are(host, conn):
	for call in (jobkit.pause_queue, jobkit.resume_queue):
		with pytest.raises(jobkit.UnknownQueue, match=r"unknown queue 'nope'.*'short'"):
			call("nope")
	assert jobkit.paused_queues() == []


def test_the_health_report_shows_a_paused_queue_as_no_fault_and_a_worker_ignoring_it_as_one(
	host, conn, redis_url
):
	import jobkit.health
	from jobkit.engine.health import Thresholds, metrics

	ours = start_worker(redis_url, queues=("short", "default", "long"), worker_class="jobkit")
	try:
		wait_for(lambda: all(q.idle for q in jobkit.health.check().queues), "the worker on every queue")
		jobkit.pause_queue("short")
		for n in range(3):
			jobkit.enqueue("tests.fixtures.add", queue="short", a=n, b=1)
		thresholds = Thresholds(pending_warning=1, wait_warning=0.001)
		report = jobkit.health.check(thresholds)
		assert report.verdict == "OK", report.findings
		[short] = [q for q in report.queues if q.name == "short"]
		assert (short.paused, short.pending) == (True, 3)
		[note] = [f for f in report.findings if f.check == "paused"]
		assert (note.severity, note.queue) == ("OK", "short")
		assert "start none of its 3 waiting job(s)" in note.message
		assert 'jobkit_queue_paused{site="test-site",queue="short"} 1' in metrics.render(report, "test-site")

		stock = start_worker(redis_url, queues=("long",), worker_class="fork")
		try:
			jobkit.pause_queue("long")
			wait_for(
				lambda: [f for f in jobkit.health.check().findings if f.check == "paused_ignored"],
				"the finding",
			)
			[ignored] = [f for f in jobkit.health.check().findings if f.check == "paused_ignored"]
			assert (ignored.severity, ignored.queue) == ("Warning", "long")
		finally:
			stop_workers(stock)
	finally:
		stop_workers(ours)
