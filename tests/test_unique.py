"""Unique jobs: one atomic claim-and-enqueue, under real races, with real workers."""

import json
import os
import signal
import subprocess
import sys
from uuid import uuid4

import pytest
from rq import Queue
from rq.job import Job
from rq.worker import Worker

import jobkit
from jobkit.engine import keys
from tests.conftest import NAMESPACE, read_log
from tests.workers import REPO, run_burst_worker, start_worker, stop_workers, wait_for, worker_env

RACERS = 8


def run_racers(redis_url, conn, job_id, count=RACERS, **options) -> list[dict]:
	barrier = f"barrier:{uuid4().hex}"
	command = [
		sys.executable,
		"-m",
		"tests.race",
		"--url",
		redis_url,
		"--barrier",
		barrier,
		"--job-id",
		job_id,
	]
	for name, value in options.items():
		command += [f"--{name.replace('_', '-')}", str(value)]
	racers = [
		subprocess.Popen(
			command, cwd=REPO, env=worker_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
		)
		for _ in range(count)
	]
	wait_for(lambda: int(conn.get(f"{barrier}:ready") or 0) == count, "the racers to be ready")
	conn.rpush(barrier, *["go"] * count)
	results = []
	for racer in racers:
		out, err = racer.communicate(timeout=120)
		assert racer.returncode == 0, err
		results.append(json.loads(out))
	return results


def unique_key(job_id):
	return keys.unique(NAMESPACE, job_id)


def test_racing_processes_enqueue_exactly_one_job(host, conn, redis_url):
	results = run_racers(redis_url, conn, "race", attempts=500)

	claimed = [rq_id for result in results for rq_id in result["claimed"]]
	assert sum(result["calls"] for result in results) == RACERS * 500
	assert [error for result in results for error in result["errors"]] == []
	assert len(claimed) == 1
	assert Queue("default", connection=conn).job_ids == claimed
	# No half-written state: the key names the queued job, and no loser left a job hash behind.
	assert conn.get(unique_key("race")).decode() == claimed[0]
	assert [key.decode() for key in conn.keys("rq:job:*")] == [f"rq:job:{claimed[0]}"]


@pytest.mark.parametrize("lock", ["until_executed", "while_executing"])
def test_sustained_race_with_workers_never_overlaps_or_runs_a_payload_twice(host, conn, redis_url, lock):
	workers = [start_worker(redis_url) for _ in range(2)]
	try:
		# The race starts once both workers listen: on a busy machine a worker takes seconds to boot.
		wait_for(lambda: len(Worker.all(connection=conn)) == 2, "the workers to start")
		# while_executing accepts every call, so its racers pause to keep the backlog small.
		pause = 0.1 if lock == "while_executing" else 0
		# Rounds of 2 s until the key was claimed again after a run: on a loaded machine (CI runs both
		# RQ lines at once on 2 cores) a worker's first job can take longer than one round.
		results, rounds = [], 0
		while rounds < 10:
			results += run_racers(
				redis_url,
				conn,
				"sustained",
				seconds=2,
				unique=lock,
				method="tests.fixtures.tracked_run",
				pause=pause,
			)
			rounds += 1
			if sum(len(result["claimed"]) for result in results) > 1:
				break
		claimed = [rq_id for result in results for rq_id in result["claimed"]]
		wait_for(
			lambda: Queue("default", connection=conn).count == 0 and int(conn.get("running") or 0) == 0,
			"the drain",
			120,
		)
		wait_for(
			lambda: all(Job.fetch(i, connection=conn).get_status() == "finished" for i in claimed), "the jobs"
		)
	finally:
		stop_workers(*workers)

	executions = [item.decode() for item in conn.lrange("executions", 0, -1)]
	assert [error for result in results for error in result["errors"]] == []
	assert len(claimed) > 1  # the key was claimed again after each run
	assert len(executions) == len(claimed)
	assert len(set(executions)) == len(executions), "a payload ran twice"
	assert conn.lrange("overlaps", 0, -1) == []
	assert (
		conn.get(unique_key("sustained")) is None and conn.get(keys.running(NAMESPACE, "sustained")) is None
	)


def test_skip_returns_the_holder(host):
	first = jobkit.enqueue("tests.fixtures.add", job_id="skip-me", a=1, b=1)
	second = jobkit.enqueue("tests.fixtures.add", job_id="skip-me", a=2, b=2)
	assert not first.duplicate
	assert second.duplicate and not second.replaced
	assert second.rq_id == first.rq_id
	assert second.status == "queued"


def test_a_duplicate_enqueued_after_commit_points_to_the_holder(host, conn):
	first = jobkit.enqueue("tests.fixtures.add", job_id="after-commit", a=1, b=1)
	# The plain host has no transaction: the claim runs at once, and the handle learns the outcome.
	later = jobkit.enqueue("tests.fixtures.add", job_id="after-commit", enqueue_after_commit=True, a=2, b=2)
	assert later.duplicate and later.rq_id == first.rq_id
	assert later.status == "queued"
	assert Queue("default", connection=conn).count == 1


def test_raise_names_the_holder(host, conn):
	first = jobkit.enqueue("tests.fixtures.add", job_id="raise-me", a=1, b=1)
	with pytest.raises(jobkit.DuplicateJob, match="already queued") as caught:
		jobkit.enqueue("tests.fixtures.add", job_id="raise-me", on_conflict="raise", a=1, b=1)
	assert caught.value.holder == first.rq_id
	assert Queue("default", connection=conn).count == 1


def test_replace_keeps_one_queued_job_with_the_latest_kwargs(host, conn, redis_url):
	ahead = jobkit.enqueue("tests.fixtures.record_kwargs", tag="ahead")
	first = jobkit.enqueue(
		"tests.fixtures.record_kwargs", job_id="debounce", on_conflict="replace", version=1
	)
	behind = jobkit.enqueue("tests.fixtures.record_kwargs", tag="behind")
	for version in (2, 3):
		handle = jobkit.enqueue(
			"tests.fixtures.record_kwargs", job_id="debounce", on_conflict="replace", version=version
		)
		assert handle.duplicate and handle.replaced and handle.rq_id == first.rq_id

	# The holder keeps its place: replace changes the arguments, not the position.
	assert Queue("default", connection=conn).job_ids == [ahead.rq_id, first.rq_id, behind.rq_id]
	run_burst_worker(redis_url)
	assert read_log(conn, "kwargs") == [{"tag": "ahead"}, {"version": 3}, {"tag": "behind"}]


def test_replace_on_a_running_holder_acts_as_skip(host, conn, redis_url):
	worker = start_worker(redis_url)
	try:
		first = jobkit.enqueue(
			"tests.fixtures.wait_for_key", job_id="busy", on_conflict="replace", key="go", record_to="steps"
		)
		wait_for(lambda: read_log(conn, "steps") == ["started"], "the holder to start")
		later = jobkit.enqueue(
			"tests.fixtures.wait_for_key", job_id="busy", on_conflict="replace", key="go", record_to="other"
		)
		assert later.duplicate and not later.replaced and later.rq_id == first.rq_id
		conn.rpush("go", "1")
		wait_for(lambda: first.status == "finished", "the holder to finish")
	finally:
		stop_workers(worker)
	assert conn.lrange("other", 0, -1) == []


def test_until_executing_releases_when_a_worker_starts_the_job(host, conn, redis_url):
	worker = start_worker(redis_url)
	try:
		first = jobkit.enqueue(
			"tests.fixtures.wait_for_key", job_id="ue", unique="until_executing", key="go", record_to="steps"
		)
		wait_for(lambda: read_log(conn, "steps") == ["started"], "the job to start")
		second = jobkit.enqueue("tests.fixtures.add", job_id="ue", unique="until_executing", a=1, b=1)
		assert not second.duplicate and second.rq_id != first.rq_id
		conn.rpush("go", "1")
		wait_for(lambda: first.status == "finished" and second.status == "finished", "both jobs")
	finally:
		stop_workers(worker)


def test_until_executing_holds_while_queued(host):
	first = jobkit.enqueue("tests.fixtures.add", job_id="ue-q", unique="until_executing", a=1, b=1)
	assert jobkit.enqueue("tests.fixtures.add", job_id="ue-q", unique="until_executing", a=1, b=1).duplicate
	assert first.status == "queued"


@pytest.mark.parametrize("method", ["tests.fixtures.add", "tests.fixtures.fail"])
def test_until_executed_holds_while_running_and_releases_at_the_end(host, conn, redis_url, method):
	worker = start_worker(redis_url)
	try:
		first = jobkit.enqueue("tests.fixtures.wait_for_key", job_id="ux", key="go", record_to="steps")
		wait_for(lambda: read_log(conn, "steps") == ["started"], "the job to start")
		assert jobkit.enqueue("tests.fixtures.add", job_id="ux", a=1, b=1).duplicate
		conn.rpush("go", "1")
		wait_for(lambda: first.status == "finished", "the job to end")
		kwargs = {"a": 1, "b": 1} if method.endswith("add") else {"message": "boom"}
		second = jobkit.enqueue(method, job_id="ux", **kwargs)
		assert not second.duplicate
		wait_for(lambda: second.status in ("finished", "failed"), "the second job")
	finally:
		stop_workers(worker)
	# Released on success and on failure alike.
	assert conn.get(unique_key("ux")) is None
	assert not jobkit.enqueue("tests.fixtures.add", job_id="ux", a=1, b=1).duplicate


def test_while_executing_lets_every_call_queue(host, conn):
	handles = [
		jobkit.enqueue("tests.fixtures.add", job_id="we", unique="while_executing", a=i, b=1)
		for i in range(3)
	]
	assert not any(handle.duplicate for handle in handles)
	assert len({handle.rq_id for handle in handles}) == 3
	assert Queue("default", connection=conn).count == 3


def test_until_expired_holds_after_the_job_ends_until_its_ttl(host, conn, redis_url):
	first = jobkit.enqueue("tests.fixtures.add", job_id="exp", unique="until_expired", unique_ttl=8, a=1, b=1)
	run_burst_worker(redis_url)
	assert first.status == "finished"
	assert jobkit.enqueue(
		"tests.fixtures.add", job_id="exp", unique="until_expired", unique_ttl=8, a=1, b=1
	).duplicate
	wait_for(lambda: conn.get(unique_key("exp")) is None, "the TTL to pass", 20)
	assert not jobkit.enqueue("tests.fixtures.add", job_id="exp", unique="until_expired", a=1, b=1).duplicate


def test_key_ttl_is_derived_from_the_timeout(host, conn):
	jobkit.enqueue("tests.fixtures.add", job_id="ttl", timeout=100, a=1, b=1)
	assert 100 + 3600 - 5 < conn.pttl(unique_key("ttl")) / 1000 <= 100 + 3600
	jobkit.enqueue("tests.fixtures.add", job_id="ttl2", unique="until_expired", timeout=100, a=1, b=1)
	assert 95 < conn.pttl(unique_key("ttl2")) / 1000 <= 100


def test_each_enqueue_gets_its_own_rq_id(host, redis_url):
	ids = []
	for _ in range(3):
		handle = jobkit.enqueue("tests.fixtures.add", job_id="cycle", a=1, b=1)
		run_burst_worker(redis_url)
		assert handle.status == "finished"
		ids.append(handle.rq_id)
	assert len(set(ids)) == 3
	assert all(":" not in rq_id and rq_id.startswith(f"{NAMESPACE}.cycle#") for rq_id in ids)


def test_a_deleted_holder_is_healed_at_the_next_claim(host, conn):
	first = jobkit.enqueue("tests.fixtures.add", job_id="gone", a=1, b=1)
	Queue("default", connection=conn).remove(first.rq_id)
	first.fetch().delete()
	second = jobkit.enqueue("tests.fixtures.add", job_id="gone", a=1, b=1)
	assert not second.duplicate
	assert conn.get(unique_key("gone")).decode() == second.rq_id


def test_a_killed_work_horse_frees_the_key_at_once(host, conn, redis_url):
	worker = start_worker(redis_url)
	try:
		first = jobkit.enqueue(
			"tests.fixtures.record_pid_and_wait", job_id="horse", key="never", record_to="pids"
		)
		[pid] = wait_for(lambda: read_log(conn, "pids"), "the job to start")
		os.kill(pid, signal.SIGKILL)
		# RQ marks the job failed when its horse dies; the next claim heals the key.
		wait_for(lambda: first.status == "failed", "RQ to fail the killed job")
		assert not jobkit.enqueue("tests.fixtures.add", job_id="horse", a=1, b=1).duplicate
	finally:
		stop_workers(worker)


def test_a_killed_worker_frees_the_key_within_the_lease(no_host, redis_url, conn):
	jobkit.configure(redis_url=redis_url, namespace=NAMESPACE, lease_seconds=1)
	worker = start_worker(redis_url)
	first = jobkit.enqueue(
		"tests.fixtures.record_pid_and_wait", job_id="kill", timeout=600, key="never", record_to="pids"
	)
	[horse] = wait_for(lambda: read_log(conn, "pids"), "the job to start")
	# While the job runs its key lives on the lease, not on the 600 s + queue-wait TTL.
	wait_for(lambda: 0 < conn.pttl(unique_key("kill")) <= 1000, "the lease to apply")
	# The worker, then its work horse (RQ gives it a process group of its own): a lost host.
	os.kill(worker.pid, signal.SIGKILL)
	worker.wait(timeout=30)
	os.kill(horse, signal.SIGKILL)

	assert first.status == "started"  # nobody told RQ
	retried = wait_for(
		lambda: (
			(h := jobkit.enqueue("tests.fixtures.add", job_id="kill", a=1, b=1)) and not h.duplicate and h
		),
		"the key to free itself",
		timeout=15,
	)
	assert retried.rq_id != first.rq_id


def test_is_enqueued_follows_the_job(host, conn, redis_url):
	assert not jobkit.is_enqueued("tracked")
	jobkit.enqueue("tests.fixtures.add", job_id="tracked", a=1, b=1)
	assert jobkit.is_enqueued("tracked")
	run_burst_worker(redis_url)
	assert not jobkit.is_enqueued("tracked")
	jobkit.enqueue("tests.fixtures.add", job_id="plain", unique=False, a=1, b=1)
	assert jobkit.is_enqueued("plain")


@pytest.mark.parametrize(
	("options", "message"),
	[
		({"unique": "until_executed"}, "needs a job_id"),
		({"job_id": "x", "unique": "forever"}, "not a lock type"),
		({"job_id": "x", "on_conflict": "merge"}, "not a conflict strategy"),
		({"job_id": "x", "unique": "while_executing", "on_conflict": "raise"}, "on_conflict does not apply"),
		({"job_id": "x", "unique_ttl": 0}, "unique_ttl must be a positive"),
		({"job_id": "x", "unique": False, "on_conflict": "skip"}, "need a unique lock"),
		({"job_id": "x", "on_conflict": "raise", "enqueue_after_commit": True}, "cannot be combined"),
	],
)
def test_bad_unique_arguments_enqueue_nothing(host, conn, options, message):
	with pytest.raises(jobkit.InvalidArgument, match=message):
		jobkit.enqueue("tests.fixtures.add", a=1, b=1, **options)
	assert conn.keys("*") == []
