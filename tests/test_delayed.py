"""Delayed jobs: they wait in RQ's scheduled registry and jobkit promotes them when due."""

import json
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from uuid import uuid4

import pytest
from rq import Queue
from rq.registry import ScheduledJobRegistry

import jobkit
from jobkit.engine import keys
from tests.conftest import NAMESPACE, read_log
from tests.redis_server import start_redis
from tests.workers import REPO, run_burst_worker, start_promoter, wait_for, worker_env


def scheduled(conn, queue="default") -> dict:
	registry = ScheduledJobRegistry(queue=Queue(queue, connection=conn))
	return {member.decode(): score for member, score in conn.zrange(registry.key, 0, -1, withscores=True)}


def test_a_delayed_job_waits_then_runs_once_promoted(host, conn, redis_url):
	# 5 s: long enough that a slow machine still checks the waiting job before it falls due.
	handle = jobkit.enqueue("tests.fixtures.record", delay=5, key="out", value="late")
	assert handle.status == "scheduled"
	assert Queue("default", connection=conn).count == 0
	assert handle.rq_id in scheduled(conn)
	assert jobkit.promote_due() == 0  # not due yet

	wait_for(lambda: jobkit.promote_due() == 1, "the job to fall due", timeout=20)
	assert handle.status == "queued"
	assert scheduled(conn) == {}
	run_burst_worker(redis_url)
	assert read_log(conn, "out") == ["late"]


def test_at_takes_an_aware_or_a_local_naive_datetime(host, conn):
	aware = jobkit.enqueue("tests.fixtures.add", at=datetime.now(timezone.utc) + timedelta(hours=1), a=1, b=1)
	naive = jobkit.enqueue("tests.fixtures.add", at=datetime.now() + timedelta(hours=2), a=1, b=1)
	due = scheduled(conn)
	assert abs(due[aware.rq_id] - (time.time() + 3600)) < 5
	assert abs(due[naive.rq_id] - (time.time() + 7200)) < 5


def test_a_past_due_time_is_promoted_at_the_next_pass(host, conn):
	handle = jobkit.enqueue(
		"tests.fixtures.add", at=datetime.now(timezone.utc) - timedelta(minutes=5), a=1, b=1
	)
	assert jobkit.promote_due() == 1
	assert Queue("default", connection=conn).job_ids == [handle.rq_id]


def test_a_due_job_gone_from_redis_is_reported_not_pushed(host, conn, caplog):
	kept = jobkit.enqueue("tests.fixtures.add", delay=0.1, a=1, b=1)
	lost = jobkit.enqueue("tests.fixtures.add", delay=0.1, a=2, b=2)
	conn.delete(f"rq:job:{lost.rq_id}")  # evicted by a Redis out of memory, or deleted by hand
	time.sleep(0.2)
	with caplog.at_level("WARNING", logger="jobkit"):
		assert jobkit.promote_due() == 1
	assert Queue("default", connection=conn).job_ids == [kept.rq_id]
	[warning] = [record.getMessage() for record in caplog.records if "dropped" in record.getMessage()]
	assert lost.rq_id in warning and "evicted" in warning
	assert kept.rq_id not in warning


@pytest.mark.parametrize(
	("options", "message"),
	[
		({"delay": -1}, "0 or more"),
		({"delay": "10"}, "number of seconds"),
		({"delay": 5, "at": datetime.now(timezone.utc)}, "not both"),
		({"at": "2026-12-01 10:00"}, "must be a datetime"),
		({"delay": 5, "now": True}, r"now=True \(or is_async=False\) runs the job at once: drop delay="),
	],
)
def test_bad_delays_enqueue_nothing(host, conn, options, message):
	with pytest.raises(jobkit.InvalidArgument, match=message):
		jobkit.enqueue("tests.fixtures.add", a=1, b=1, **options)
	assert conn.keys("*") == []


def test_a_unique_delayed_job_holds_its_id_while_it_waits(host, conn):
	first = jobkit.enqueue(
		"tests.fixtures.record_kwargs", job_id="later", delay=600, on_conflict="replace", v=1
	)
	assert first.status == "scheduled"
	assert jobkit.is_enqueued("later")
	# The key outlives the wait: timeout + queue-wait allowance + the delay.
	assert conn.pttl(keys.unique(NAMESPACE, "later")) / 1000 > 600 + 300 + 3600 - 5
	again = jobkit.enqueue(
		"tests.fixtures.record_kwargs", job_id="later", delay=600, on_conflict="replace", v=2
	)
	assert again.duplicate and again.replaced and again.rq_id == first.rq_id
	assert list(scheduled(conn)) == [first.rq_id]
	assert Queue("default", connection=conn).count == 0


def test_concurrent_promoters_push_each_due_job_once(host, conn, redis_url):
	past = datetime.now(timezone.utc) - timedelta(seconds=1)
	handles = [jobkit.enqueue("tests.fixtures.add", at=past, a=i, b=0) for i in range(300)]
	barrier = f"barrier:{uuid4().hex}"
	command = [sys.executable, "-m", "tests.promote_race", "--url", redis_url, "--barrier", barrier]
	promoters = [
		subprocess.Popen(
			command, cwd=REPO, env=worker_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
		)
		for _ in range(2)
	]
	wait_for(lambda: int(conn.get(f"{barrier}:ready") or 0) == 2, "the promoters to be ready")
	conn.rpush(barrier, "go", "go")
	moved = []
	for promoter in promoters:
		out, err = promoter.communicate(timeout=60)
		assert promoter.returncode == 0, err
		moved.append(json.loads(out)["moved"])

	queued = Queue("default", connection=conn).job_ids
	assert sum(moved) == 300
	assert sorted(queued) == sorted(handle.rq_id for handle in handles)
	assert len(set(queued)) == len(queued) == 300


def test_delayed_jobs_survive_a_redis_restart_with_appendonly(no_host, tmp_path):
	server = start_redis(tmp_path, "--appendonly", "yes", "--appendfsync", "always")
	try:
		jobkit.configure(redis_url=server.url, namespace=NAMESPACE)
		handle = jobkit.enqueue("tests.fixtures.record", delay=2, key="out", value="after restart")
		server = server.restart()
		conn = server.client()
		assert handle.rq_id in scheduled(conn)
		wait_for(lambda: jobkit.promote_due() == 1, "the job to fall due after the restart", timeout=15)
		run_burst_worker(server.url)
		assert read_log(conn, "out") == ["after restart"]
	finally:
		server.stop()


def test_the_promoter_process_queues_due_jobs_and_stops_on_sigterm(host, conn, redis_url):
	promoter = start_promoter(redis_url, interval=0.2)
	try:
		handle = jobkit.enqueue("tests.fixtures.add", queue="long", delay=1, a=1, b=1)
		wait_for(lambda: handle.status == "queued", "the promoter to queue the due job", timeout=15)
		assert Queue("long", connection=conn).job_ids == [handle.rq_id]
	finally:
		promoter.terminate()
		_, err = promoter.communicate(timeout=30)
	assert promoter.returncode == 0, err


def test_a_job_falling_due_while_it_is_written_is_never_dropped(host, conn):
	# A promoter passing between the registry entry and the job it names would drop the job (RQ's
	# own schedule_job writes the entry first, outside its transaction): both go in one step.
	import threading

	stop = threading.Event()
	passes = []

	def promote_without_pause():
		while not stop.is_set():
			passes.append(jobkit.promote_due())

	promoter = threading.Thread(target=promote_without_pause)
	promoter.start()
	try:
		handles = [jobkit.enqueue("tests.fixtures.add", delay=0.0001, a=i, b=0) for i in range(300)]
		wait_for(lambda: not scheduled(conn), "the last job to be promoted")
	finally:
		stop.set()
		promoter.join()
	assert sum(passes) == 300  # each job was promoted once, by the promoter racing the writes
	queued = Queue("default", connection=conn).job_ids
	assert sorted(queued) == sorted(handle.rq_id for handle in handles)


def test_run_now_queues_a_waiting_job_at_once_and_only_once(host, conn, redis_url):
	from jobkit.engine import delayed

	handle = jobkit.enqueue("tests.fixtures.record", delay=3600, key="out", value="now")
	rq_queue = Queue("default", connection=conn)
	assert delayed.run_now(conn, rq_queue, handle.rq_id)
	assert handle.status == "queued"
	assert scheduled(conn) == {}
	# Asked again (a second click, another manager): nothing waits any more, nothing is pushed twice.
	assert not delayed.run_now(conn, rq_queue, handle.rq_id)
	assert rq_queue.job_ids == [handle.rq_id]
	run_burst_worker(redis_url)
	assert read_log(conn, "out") == ["now"]


def test_take_back_and_a_promoter_never_both_get_a_due_job(host, conn):
	import threading

	from jobkit.engine import delayed

	past = datetime.now(timezone.utc) - timedelta(seconds=1)
	handles = [jobkit.enqueue("tests.fixtures.add", at=past, a=i, b=0) for i in range(300)]
	rq_queue = Queue("default", connection=conn)
	promoted = []
	promoter = threading.Thread(target=lambda: promoted.append(delayed.promote_due(conn, [rq_queue])))
	promoter.start()
	taken = {handle.rq_id for handle in handles if delayed.take_back(conn, rq_queue, handle.rq_id)}
	promoter.join()
	queued = set(rq_queue.job_ids)
	assert not taken & queued
	assert taken | queued == {handle.rq_id for handle in handles}
	assert promoted == [len(queued)]
	assert scheduled(conn) == {}
