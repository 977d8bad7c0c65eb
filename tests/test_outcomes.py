"""Every accepted call ends in exactly one outcome a user can find, under any interleaving.

A stateful property-based test (hypothesis' ``RuleBasedStateMachine``) of unique keys x retries x
leases x the reaper x the promoter, against the suite's real Redis and real jobkit workers. One job
id, calls with varying lock types, conflict strategies, retry policies and delays; workers (one
job each) that start runs; runs that succeed, fail or die (their work-horse and worker SIGKILLed);
time passing beyond the short lease; reaps; promotions. After every step: no two runs of the key
at once where the lock type forbids it, and after a reap no key held by a run that has ended.
Once everything drains, every accepted call has exactly one outcome (it ran, or its dead letter,
or its skipped-run record as superseded, or it was skipped or replaced at enqueue) and every
handle's status is terminal.

Bounded for CI (``JOBKIT_OUTCOME_EXAMPLES`` raises it); the seed is printed, and
``JOBKIT_OUTCOME_SEED`` replays one.
"""

import json
import os
import random
import signal
import subprocess
import time
from collections import Counter

import hypothesis.strategies as st
import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis import seed as use_seed
from hypothesis.stateful import (
	RuleBasedStateMachine,
	initialize,
	invariant,
	precondition,
	rule,
	run_state_machine_as_test,
)
from rq.job import Job
from rq.registry import ScheduledJobRegistry

import jobkit
from jobkit.engine import keys, unique
from tests.conftest import NAMESPACE, SHORT_LEASE
from tests.workers import REPO, process_runs, worker_command, worker_env

JOB_ID = "sm"
# until_executed (the default with a job id) twice as likely as each other lock type.
LOCKS = (
	unique.UNTIL_EXECUTED,
	unique.UNTIL_EXECUTED,
	unique.UNTIL_EXECUTING,
	unique.WHILE_EXECUTING,
	unique.UNTIL_EXPIRED,
)
RETRY = jobkit.Retry(max_attempts=2, backoff=0.2, jitter=False)
DELAY = 0.3
MAX_WORKERS = 3
TERMINAL = ("finished", "failed", "superseded")
EXAMPLES = int(os.environ.get("JOBKIT_OUTCOME_EXAMPLES") or 8)
STEPS = int(os.environ.get("JOBKIT_OUTCOME_STEPS") or 25)
DRAIN_SECONDS = 120
# What the examples did, printed at the end: a run that exercised nothing is seen as such.
seen = Counter()


def spawn_worker(redis_url: str, *, one_job: bool) -> subprocess.Popen:
	"""jobkit's forking worker in burst mode: it leaves once its queue is empty (or after one job)."""
	command = worker_command(redis_url, ["default"], "jobkit", burst=True)
	return subprocess.Popen(
		[*command, "--max-jobs", "1"] if one_job else command,
		cwd=REPO,
		env=worker_env(),
		stdout=subprocess.DEVNULL,
		stderr=subprocess.DEVNULL,
		start_new_session=True,
	)


def wait(predicate, seconds: float) -> bool:
	deadline = time.monotonic() + seconds
	while not predicate():
		if time.monotonic() > deadline:
			return False
		time.sleep(0.02)
	return True


class Outcomes(RuleBasedStateMachine):
	conn = None  # set by the test: the suite's Redis
	redis_url = ""

	def __init__(self):
		super().__init__()
		self.conn.flushall()
		self.handles: dict[int, jobkit.JobHandle] = {}  # accepted calls, by their token
		self.replaced: set[int] = set()  # calls whose arguments a later call's replaced
		self.workers: list[subprocess.Popen] = []
		self.runs: dict[str, dict] = {}  # runs begun, by RQ id
		self.seen = 0  # entries of sm:begun read
		self.ended: set[str] = set()  # runs told to end, or killed
		self.next_call = 0

	# Steps ----------------------------------------------------------------------------------

	@initialize(lock=st.sampled_from(LOCKS), retried=st.sampled_from([True, True, False]))
	def a_first_call_running(self, lock, retried):
		"""Every example starts with a run going on, so that its steps end, fail and kill runs."""
		self.enqueue(lock, unique.SKIP, retried, delayed=False, then_start=True)

	@rule(
		lock=st.sampled_from(LOCKS),
		on_conflict=st.sampled_from(unique.CONFLICT_STRATEGIES),
		retried=st.sampled_from([True, True, False]),  # the machine is about unique keys x retries
		delayed=st.booleans(),
		then_start=st.booleans(),
	)
	def enqueue(self, lock, on_conflict, retried, delayed, then_start):
		if lock == unique.WHILE_EXECUTING:
			on_conflict = unique.SKIP  # the one strategy it takes
		call, self.next_call = self.next_call, self.next_call + 1
		holder_before = self.holder_call()
		try:
			handle = jobkit.enqueue(
				"tests.fixtures.gated",
				job_id=JOB_ID,
				unique=lock,
				on_conflict=on_conflict,
				retry=RETRY if retried else None,
				delay=DELAY if delayed else None,
				call=call,
				lock=lock,
			)
		except jobkit.DuplicateJob:
			return  # refused at once: not an accepted call
		self.handles[call] = handle
		seen["calls accepted"] += 1
		if handle.replaced:
			holder, holder_call = holder_before
			assert holder == handle.rq_id, (holder_before, handle.rq_id)
			self.replaced.add(holder_call)
		if then_start and len(self.live_workers()) < MAX_WORKERS:
			self.start_a_worker()  # an idle worker takes it at once

	@precondition(lambda self: len(self.live_workers()) < MAX_WORKERS)
	@rule()
	def start_a_worker(self):
		worker = spawn_worker(self.redis_url, one_job=True)
		self.workers.append(worker)
		# Until its run begins, it leaves (nothing to take), or its run waits for another to end.
		wait(lambda: worker.poll() is not None or self.run_of(worker) is not None, 5)

	@precondition(lambda self: self.waiting_runs())
	@rule(data=st.data(), how=st.sampled_from(["ok", "fail", "killed"]), wait_out_its_lease=st.booleans())
	def end_a_run(self, data, how, wait_out_its_lease):
		"""A run ends: it succeeds, fails (a transient error), or its work-horse and worker are
		SIGKILLed (and then, maybe, its lease runs out before the next step)."""
		rq_id = data.draw(st.sampled_from(self.waiting_runs()))
		self.ended.add(rq_id)
		worker = self.worker_of(rq_id)
		if how == "killed":
			self.kill(rq_id, worker)
			if wait_out_its_lease:
				self.time_passes()  # its key and in-flight entry run out: what a reap, or a new call, sees
			return
		seen[f"runs told {how!r}"] += 1
		self.conn.rpush(f"sm:gate:{rq_id}", how)
		# One job a worker: it leaves once the run's outcome (its retry, its dead letter) is written.
		assert worker is None or wait(lambda: worker.poll() is not None, 30), f"{rq_id} did not end"

	def kill(self, rq_id: str, worker: subprocess.Popen | None) -> None:
		run = self.runs[rq_id]
		seen["runs killed"] += 1
		for pid in (run["pid"], run["worker"]):
			try:
				os.kill(pid, signal.SIGKILL)
			except ProcessLookupError:
				pass
		if worker is not None:
			worker.wait(timeout=30)
		assert wait(lambda: not process_runs(run["pid"]), 30), f"the work-horse of {rq_id} lives on"
		self.conn.srem(f"sm:running:{run['lock']}", rq_id)  # it cannot say so itself

	@rule()
	def time_passes(self):
		time.sleep(SHORT_LEASE * 1.2)  # beyond the lease: the killed runs' entries and keys run out

	@rule()
	def reap(self):
		seen.update(f"reaped: {reaped.outcome}" for reaped in jobkit.reap())
		self.no_key_held_by_an_ended_run()

	@rule()
	def promote(self):
		jobkit.promote_due()

	# Invariants -----------------------------------------------------------------------------

	@invariant()
	def no_two_runs_at_once_where_the_lock_forbids_it(self):
		overlaps = self.conn.lrange("sm:overlaps", 0, -1)
		assert not overlaps, [json.loads(entry) for entry in overlaps]

	def no_key_held_by_an_ended_run(self):
		for key in (keys.unique(NAMESPACE, JOB_ID), keys.running(NAMESPACE, JOB_ID)):
			holder = unique.holder_of(self.conn, key)
			if holder is None:
				continue
			job = Job.fetch(holder, connection=self.conn)  # NoSuchJobError: a key held by nothing
			envelope = job.kwargs["job"]
			if envelope["unique"]["lock"] == unique.UNTIL_EXPIRED:
				continue  # held for its TTL whatever happens
			status = job.get_status()
			assert getattr(status, "value", status) not in unique.ENDED_STATUSES, (key, holder, status)

	# The end ----------------------------------------------------------------------------------

	def teardown(self):
		try:
			self.drain()
			self.every_call_has_one_outcome()
		finally:
			for worker in self.workers:
				if worker.poll() is None:
					os.killpg(worker.pid, signal.SIGKILL)
					worker.wait()

	def drain(self):
		"""Let everything end: runs waiting are told "ok", later runs end at once, retries and delayed
		jobs are promoted, lost runs reaped, and workers run the queue until nothing is left."""
		self.conn.set("sm:drain", 1)
		deadline = time.monotonic() + DRAIN_SECONDS
		while True:
			self.read_runs()
			for rq_id in self.waiting_runs():
				self.ended.add(rq_id)
				self.conn.rpush(f"sm:gate:{rq_id}", "ok")
			jobkit.promote_due()
			seen.update(f"reaped: {reaped.outcome}" for reaped in jobkit.reap())
			queued = self.conn.llen("rq:queue:default")
			if queued and len(self.live_workers()) < 2:
				self.workers.append(spawn_worker(self.redis_url, one_job=False))
			scheduled = self.conn.zcard(ScheduledJobRegistry("default", connection=self.conn).key)
			in_flight = self.conn.zcard(keys.in_flight(NAMESPACE))
			if not (queued or scheduled or in_flight or self.live_workers() or self.conn.zcard(keys.TAKEN)):
				return
			assert time.monotonic() < deadline, (
				f"not drained after {DRAIN_SECONDS}s: {queued} queued, {scheduled} scheduled, "
				f"{in_flight} in flight, {len(self.live_workers())} workers"
			)
			time.sleep(0.1)

	def every_call_has_one_outcome(self):
		ran = Counter(int(call) for call in self.conn.lrange("sm:done", 0, -1))
		letters = Counter(letter.job["kwargs"]["call"] for letter in jobkit.dead_letters().list(1000))
		superseded = Counter(
			record.job["kwargs"]["call"]
			for record in jobkit.skipped_runs().list(1000)
			if record.reason == "superseded"
		)
		for call, handle in self.handles.items():
			outcomes = {
				"ran": ran[call],
				"dead letter": letters[call],
				"superseded": superseded[call],
				"skipped at enqueue": int(handle.duplicate and not handle.replaced),
				"replaced by a later call": int(call in self.replaced),
			}
			assert sum(outcomes.values()) == 1, (call, handle, outcomes)
			seen.update(f"outcome: {name}" for name, count in outcomes.items() if count)
			assert handle.status in TERMINAL, (call, handle, handle.status)
		assert set(ran) <= set(self.handles), (ran, self.handles)  # nothing ran that was not accepted

	# Reading the state --------------------------------------------------------------------------

	def read_runs(self):
		entries = self.conn.lrange("sm:begun", self.seen, -1)
		self.seen += len(entries)
		for entry in entries:
			run = json.loads(entry)
			self.runs[run["rq_id"]] = run

	def run_of(self, worker: subprocess.Popen) -> str | None:
		self.read_runs()
		return next((rq_id for rq_id, run in self.runs.items() if run["worker"] == worker.pid), None)

	def worker_of(self, rq_id: str) -> subprocess.Popen | None:
		return next((w for w in self.workers if w.pid == self.runs[rq_id]["worker"]), None)

	def waiting_runs(self) -> list[str]:
		"""Runs begun, blocked at their gate: not told to end, nor killed."""
		self.read_runs()
		return sorted(rq_id for rq_id in self.runs if rq_id not in self.ended)

	def live_workers(self) -> list[subprocess.Popen]:
		return [worker for worker in self.workers if worker.poll() is None]

	def holder_call(self) -> tuple[str, int] | None:
		"""The job holding the unique key, and the call whose arguments it carries now."""
		holder = unique.holder_of(self.conn, keys.unique(NAMESPACE, JOB_ID))
		if holder is None:
			return None
		try:
			return holder, Job.fetch(holder, connection=self.conn).kwargs["job"]["kwargs"]["call"]
		except Exception:
			return None


@pytest.mark.timeout(60 + EXAMPLES * 30)
def test_every_accepted_call_ends_in_exactly_one_outcome(short_lease, conn, redis_url):
	Outcomes.conn, Outcomes.redis_url = conn, redis_url
	chosen = int(os.environ.get("JOBKIT_OUTCOME_SEED") or random.randrange(2**32))
	print(f"outcome state machine seed: {chosen} (replay: JOBKIT_OUTCOME_SEED={chosen})")
	run_state_machine_as_test(
		use_seed(chosen)(Outcomes),
		settings=settings(
			max_examples=EXAMPLES,
			stateful_step_count=STEPS,
			deadline=None,
			database=None,
			# No shrinking: real processes and clocks make a replay differ from its first run, so the
			# first failing sequence is the one reported (hypothesis prints its steps).
			phases=(Phase.generate,),
			report_multiple_bugs=False,
			suppress_health_check=list(HealthCheck),
			print_blob=True,
		),
	)
	print("outcome state machine:", ", ".join(f"{name} {count}" for name, count in sorted(seen.items())))
