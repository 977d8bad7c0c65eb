"""Flow control with real workers: per-key concurrency limits, rate limits and fair shares
(``jobkit.engine.limits``). A limit holds across every worker; a job over it waits in no queue and
holds no worker; a killed run frees its place; a rate is never exceeded in any window."""

import json
import os
import random
import re
import signal
import threading
import time

import pytest
from rq import Queue
from rq.job import JobStatus

import jobkit
from jobkit.engine import context
from jobkit.engine.limits import gates
from tests import fixtures
from tests.conftest import NAMESPACE
from tests.measures import most_in_any_window
from tests.workers import child_pids, start_promoter, start_worker, stop_workers, wait_for

LIMIT = jobkit.Limit("shop::{shop}", 2)
ONE_SHOP_AT_A_TIME = jobkit.Limit("shop::{shop}", 1)


def read(conn, key: str) -> list:
	return [json.loads(value) for value in conn.lrange(key, 0, -1)]


def finished_run(conn, rq_id: str) -> bool:
	from rq.job import Job

	return Job.fetch(rq_id, connection=conn).get_status(refresh=False) in ("finished", JobStatus.FINISHED)


def settled(conn) -> bool:
	"""Nothing queued, taken, in flight, scheduled or waiting at a gate."""
	return not (
		conn.llen("rq:queue:default")
		or conn.zcard("jobkit:taken")
		or conn.zcard(f"jobkit:{NAMESPACE}:in-flight")
		or conn.zcard(gates.LATER)
		or conn.zcard("rq:scheduled:default")
		or any(g["held"] or g["waiting"] for g in gates.state(conn))
	)


def done_calls(conn, key: str = "limited:done") -> list[int]:
	return sorted(entry["call"] for entry in read(conn, key))


@pytest.fixture
def promoter(redis_url):
	process = start_promoter(redis_url)
	yield process
	process.terminate()
	process.communicate(timeout=30)


def test_a_job_over_its_limit_waits_in_no_queue_and_starts_when_a_place_frees(host, conn, redis_url):
	handles = [
		jobkit.enqueue("tests.fixtures.limited_run", shop="acme", call=i, seconds=0.3, concurrency=LIMIT)
		for i in range(5)
	]
	queue = Queue("default", connection=conn)
	# Two are queued; three wait at the gate, in no queue, marked deferred.
	assert queue.count == 2
	assert [handle.status for handle in handles] == ["queued"] * 2 + ["deferred"] * 3
	[gate] = [g for g in gates.state(conn) if g["key"] == "shop::acme"]
	assert (gate["held"], gate["waiting"], gate["n"]) == (2, 3, 2)
	assert gate["oldest_wait_seconds"] is not None

	worker = start_worker(redis_url, worker_class="jobkit")
	try:
		wait_for(lambda: len(done_calls(conn)) == 5, "all five runs")
	finally:
		stop_workers(worker)
	assert done_calls(conn) == [0, 1, 2, 3, 4]
	assert max(read(conn, "limited:seen:acme")) <= 2
	assert all(handle.status == "finished" for handle in handles)
	# Done with: no place taken, none waiting, and the key leaves the list of gates in use.
	assert [g for g in gates.state(conn) if g["key"] == "shop::acme"] == []
	assert not conn.hexists(gates.GATES, "c:test-site:shop::acme")


KILL_RETRY = jobkit.Retry(max_attempts=10, backoff=0.1, jitter=False)


def test_a_limit_holds_across_four_workers_through_kills_and_every_job_runs_once(
	short_lease, conn, redis_url
):
	shops = {"acme": 2, "globex": 1, "initech": 3}
	limits = {shop: jobkit.Limit("shop::{shop}", n) for shop, n in shops.items()}
	calls = [(i, random.Random(i).choice(sorted(shops))) for i in range(200)]
	for i, shop in calls:
		jobkit.enqueue(
			"tests.fixtures.limited_run",
			shop=shop,
			call=i,
			seconds=0.02,
			concurrency=limits[shop],
			retry=KILL_RETRY,
		)
	workers = [start_worker(redis_url, worker_class="jobkit") for _ in range(4)]
	promoter = start_promoter(redis_url)
	most, stop = {shop: 0 for shop in shops}, threading.Event()

	def sample() -> None:
		# Throughout the run: the runs of each shop whose process is alive now.
		while not stop.is_set():
			for shop in shops:
				pids = conn.smembers(f"limited:running:{shop}")
				alive = sum(fixtures._alive(int(pid)) for pid in pids)
				most[shop] = max(most[shop], alive)
			time.sleep(0.002)

	sampler = threading.Thread(target=sample)
	sampler.start()
	kills = 0
	try:
		# Kill a worker (its work-horse dies with it) now and then, mid-run, and start another.
		while len(set(done_calls(conn))) < len(calls) and kills < 6:
			time.sleep(0.4)
			# A worker mid-run (its work-horse up). One killed between taking a job and starting it
			# would hold the job's place until the note ends (30 s): right, but slow for a test.
			busy = [worker for worker in workers if child_pids(worker.pid)]
			if not busy:
				continue
			victim = random.choice(busy)
			workers.remove(victim)
			horses = child_pids(victim.pid)
			os.kill(victim.pid, signal.SIGKILL)
			for horse in horses:
				try:
					os.kill(horse, signal.SIGKILL)
				except ProcessLookupError:
					pass
			victim.wait()
			kills += 1
			workers.append(start_worker(redis_url, worker_class="jobkit"))
		wait_for(
			lambda: set(done_calls(conn)) == set(range(200)) and settled(conn),
			"every call to end",
			timeout=120,
		)
	finally:
		stop.set()
		sampler.join()
		stop_workers(*workers)
		promoter.terminate()
		promoter.communicate(timeout=30)
	assert kills == 6
	# Exactly once: every call ran to its end, and one that ran to its end twice did so only because
	# its first run was killed after its last line, before RQ heard of its end (retried as lost).
	runs: dict[int, list[str]] = {}
	for entry in read(conn, "limited:done"):
		runs.setdefault(entry["call"], []).append(entry["rq_id"])
	assert sorted(runs) == list(range(200))
	for call, rq_ids in runs.items():
		assert sum(finished_run(conn, rq_id) for rq_id in rq_ids[:-1]) == 0, (call, rq_ids)
	for shop, n in shops.items():
		assert most[shop] <= n, (shop, most[shop], n)
		assert max(read(conn, f"limited:seen:{shop}")) <= n
	assert all(g["held"] == 0 and g["waiting"] == 0 for g in gates.state(conn))
	assert jobkit.dead_letters().count() == 0


@pytest.mark.parametrize("worker_class", ["jobkit", "fork"])
def test_a_rate_is_never_exceeded_in_any_window(host, conn, redis_url, worker_class, promoter):
	rate = jobkit.Rate("api", 5, per=1.0)
	for i in range(30):
		jobkit.enqueue("tests.fixtures.rated_run", call=i, rate=rate)
	# A stock RQ worker runs them too: the gate is at the queue's door (the promoter's timer lets
	# the waiting jobs in as the window moves on).
	workers = [start_worker(redis_url, worker_class=worker_class) for _ in range(4)]
	try:
		wait_for(lambda: conn.llen("rated") == 30, "thirty runs", timeout=60)
	finally:
		stop_workers(*workers)
	runs = read(conn, "rated")
	assert sorted(run["call"] for run in runs) == list(range(30))
	assert most_in_any_window([run["started"] for run in runs], 1.0) <= 5


def test_a_job_that_waits_past_its_bound_is_a_recorded_failure(host, conn, redis_url, promoter):
	rate = jobkit.Rate("bank", 1, per=60, max_wait=0.5)
	handles = [jobkit.enqueue("tests.fixtures.rated_run", call=i, rate=rate) for i in range(3)]
	assert [handle.status for handle in handles] == ["queued", "deferred", "deferred"]
	wait_for(lambda: jobkit.dead_letters().count() == 2, "two failed jobs", timeout=30)
	letters = jobkit.dead_letters().list()
	for letter in letters:
		assert letter.error.startswith("WaitedTooLong: tests.fixtures.rated_run waited ")
		assert "bank: at most 1 starts per 60 s" in letter.error
		assert "max_wait of 0.5 s" in letter.error
	assert sorted(letter.kwargs["call"] for letter in letters) == [1, 2]
	assert [handle.status for handle in handles[1:]] == ["failed", "failed"]
	[gate] = gates.state(conn)
	assert gate["waiting"] == 0
	run_burst = start_worker(redis_url, worker_class="jobkit")
	try:
		wait_for(lambda: conn.llen("rated") == 1, "the one let in")
	finally:
		stop_workers(run_burst)


def test_fair_shares_let_a_single_job_of_one_site_past_another_sites_backlog(redis_url, conn, monkeypatch):
	from tests.conftest import clear_jobkit_environment

	clear_jobkit_environment(monkeypatch)
	positions = {}
	for fair in (False, True):
		conn.flushall()
		options = {"fair_shares": {"default": 1}} if fair else {}
		jobkit.configure(redis_url=redis_url, namespace="site-a", **options)
		for i in range(300):
			jobkit.enqueue("tests.fixtures.rated_run", call=i, record_to="fair")
		jobkit.configure(redis_url=redis_url, namespace="site-b", **options)
		jobkit.enqueue("tests.fixtures.rated_run", call=-1, record_to="fair")
		workers = [start_worker(redis_url, worker_class="jobkit") for _ in range(2)]
		try:
			wait_for(lambda: conn.llen("fair") == 301, "every run", timeout=120)
		finally:
			stop_workers(*workers)
		order = [run["call"] for run in sorted(read(conn, "fair"), key=lambda run: run["started"])]
		positions[fair] = order.index(-1)  # site A's runs that started before site B's one
	context.reset()
	assert positions[False] >= 290  # first in, first out: behind the whole backlog
	assert positions[True] <= 4  # behind at most a share (one per worker) and the runs going on


def test_bad_limits_are_refused_at_enqueue_and_nothing_is_written(host, conn):
	before = conn.dbsize()
	cases = [
		(dict(concurrency=jobkit.Limit("x", 2)), None),
		(dict(concurrency="shop"), "concurrency= takes a jobkit.Limit(...)"),
		(dict(rate=jobkit.Limit("x", 2)), "rate= takes a jobkit.Rate(...)"),
		(
			dict(concurrency=jobkit.Limit("shop::{shop}", 1)),
			"names {shop}, which tests.fixtures.add does not take",
		),
		(dict(concurrency=jobkit.Limit("shop", 1), now=True), "runs the job here, past its limits"),
	]
	for options, message in cases[1:]:
		with pytest.raises(jobkit.InvalidArgument, match=re.escape(message)):
			jobkit.enqueue("tests.fixtures.add", a=1, b=2, **options)
	with pytest.raises(jobkit.InvalidArgument, match=re.escape("does not pass: pass shop=")):
		jobkit.enqueue("tests.fixtures.record_kwargs", concurrency=jobkit.Limit("shop::{shop}", 1), other=1)
	with pytest.raises(jobkit.InvalidArgument, match="at least 1"):
		jobkit.Limit("shop", 0)
	with pytest.raises(jobkit.InvalidArgument, match="at least 1"):
		jobkit.Rate("shop", -1, per=60)
	with pytest.raises(jobkit.InvalidArgument, match="per must be a positive number of seconds"):
		jobkit.Rate("shop", 40, per=0)
	with pytest.raises(jobkit.InvalidArgument, match="max_wait must be a positive number"):
		jobkit.Limit("shop", 1, max_wait=0)
	with pytest.raises(jobkit.InvalidArgument, match="non-empty string"):
		jobkit.Limit("", 1)
	with pytest.raises(jobkit.InvalidArgument, match="name a keyword argument"):
		jobkit.Limit("shop::{0}", 1)
	with pytest.raises(jobkit.InvalidArgument, match="concurrency= takes"):
		jobkit.job(concurrency=3)
	assert conn.dbsize() == before


def test_a_unique_delayed_and_retried_job_passes_its_gate_each_time(host, conn, redis_url, promoter):
	limit = jobkit.Limit("sync::{customer}", 1)
	first = jobkit.enqueue(
		"tests.fixtures.limited_run", shop="acme", call=0, seconds=0.5, concurrency=ONE_SHOP_AT_A_TIME
	)
	unique = jobkit.enqueue(
		"tests.fixtures.sync_customer", job_id="sync-acme", customer="acme", concurrency=limit
	)
	again = jobkit.enqueue(
		"tests.fixtures.sync_customer", job_id="sync-acme", customer="acme", concurrency=limit
	)
	assert again.duplicate and again.rq_id == unique.rq_id
	later = jobkit.enqueue(
		"tests.fixtures.limited_run", shop="acme", call=1, delay=0.2, concurrency=ONE_SHOP_AT_A_TIME
	)
	flaky = jobkit.enqueue(
		"tests.fixtures.flaky", key="flaky", failures=1, retry=jobkit.Retry(max_attempts=2, backoff=0.1),
		concurrency=jobkit.Limit("flaky", 1),
	)  # fmt: skip
	assert later.status == "scheduled"
	wait_for(lambda: later.status == "deferred", "the delayed job to wait at its gate once due")
	worker = start_worker(redis_url, worker_class="jobkit")
	try:
		wait_for(lambda: len(done_calls(conn)) == 2, "both shop runs")
		wait_for(lambda: unique.status == "finished", "the unique job")
		wait_for(lambda: flaky.fetch() and jobkit.dead_letters().count() == 0 and settled(conn), "the retry")
	finally:
		stop_workers(worker)
	assert first.status == "finished"
	assert [run["attempt"] for run in read(conn, "flaky:runs")] == [1, 2]
	assert max(read(conn, "limited:seen:acme")) == 1
	assert all(g["held"] == 0 and g["waiting"] == 0 for g in gates.state(conn))


def test_the_gate_scripts_spell_rqs_keys_as_rq_does():
	from rq.job import Job
	from rq.worker_registration import WORKERS_BY_QUEUE_KEY

	assert (gates.RQ_JOB_PREFIX, gates.RQ_QUEUE_PREFIX, gates.RQ_QUEUES) == (
		Job.redis_job_namespace_prefix,
		Queue.redis_queue_namespace_prefix,
		Queue.redis_queues_keys,
	)
	assert WORKERS_BY_QUEUE_KEY == "rq:workers:%s"
	source = gates.GATE_PUSH.source
	for name in ("RQ_JOB_PREFIX", "RQ_QUEUE_PREFIX", "RQ_QUEUES"):
		assert f"'{getattr(gates, name)}'" in source


def test_the_health_report_shows_each_limit_and_flags_a_long_wait(host, conn):
	from jobkit.engine.health.collecting import Thresholds, collect

	for i in range(3):
		jobkit.enqueue("tests.fixtures.limited_run", shop="acme", call=i, concurrency=ONE_SHOP_AT_A_TIME)
	time.sleep(0.2)
	report = collect(host, Thresholds(limit_wait_warning=0.1, limit_wait_critical=3600))
	[limit] = report.limits
	assert (limit.key, limit.held, limit.waiting) == ("shop::acme", 1, 2)
	assert limit.description == "shop::acme: at most 1 at once"
	[finding] = [f for f in report.findings if f.check == "limit_wait"]
	assert finding.severity == "Warning"
	assert finding.message.startswith(
		"2 job(s) wait at the limit shop::acme: at most 1 at once, the oldest for "
	)


def test_a_limit_declared_on_the_function_applies_to_its_enqueues(host, conn, redis_url):
	from tests.fixtures import one_sync_per_shop

	handles = [one_sync_per_shop.enqueue(shop="acme") for _ in range(3)]
	other = one_sync_per_shop.enqueue(shop="globex")
	assert [h.status for h in handles] == ["queued", "deferred", "deferred"]
	assert other.status == "queued"  # another key, another gate
	worker = start_worker(redis_url, worker_class="jobkit")
	try:
		wait_for(lambda: all(h.status == "finished" for h in [*handles, other]), "the four runs")
	finally:
		stop_workers(worker)
