"""Chaos soak: a mixed workload under worker kills, a Redis restart and two promoters loses nothing.

    python benchmarks/soak.py [--minutes 3] [--workers 3] [--seed N]

On a real Redis (appendonly, fsync every second) with real forking RQ workers and the plain-RQ
host, for ``--minutes`` two producers enqueue a mix of jobs: unique jobs under contention
(``until_executed`` and ``while_executing`` keys shared by many calls), jobs under a per-shop
concurrency limit and under a rate limit, jobs that fail and are
retried with backoff (some until they are dead letters), delayed jobs, jobs holding
``jobkit.lock``, jobs reporting ``jobkit.progress``, and two batches with per-item failures.
Meanwhile a chaos loop SIGKILLs a random worker (its whole process group: the worker and the job
it runs) every few seconds and starts another, restarts the Redis server once (SIGTERM, as an
init system does), and two ``jobkit.engine.promoter`` processes promote and reap at once. When a
kill ends a run of an ``until_executed`` job, a third producer enqueues that job id again as soon
as the run's key has lapsed with its lease: where it comes before the reaper, the killed run's
retry is superseded by the new call (recorded as a skipped run with its arguments).

Then the producers stop, the workers drain, and the invariants are checked; the exit code is 1 if
any fails:
- nothing lost: every accepted job ran to success, is in the dead-letter set, or was superseded
  by a newer copy of its job (a skipped-run record);
- no two runs of one unique job id overlapped;
- no lock was held by two owners at once;
- each batch's counts are exact, every item ran, and on_complete ran once;
- after the drain no unique key, lock, in-flight run or worker's note of a taken job is left;
- each progress-reporting job's kept state is its final one;
- no more than ``LIMIT`` runs of a shop at once, no more than ``RATE`` starts in any window.

A run's interval is what it recorded (start to end); a run that was killed ends when its worker
was killed. All processes share this machine's clock.
"""

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

import redis

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import jobkit
from benchmarks.soak_jobs import Flaky
from jobkit.engine import keys
from jobkit.engine.limits import gates
from tests.measures import most_in_any_window
from tests.redis_server import RedisServer, start_redis

NAMESPACE = "soak"
LEASE_SECONDS = 5  # short, so that a killed run is reaped within seconds
QUEUES = ("default", "short")
UNIQUE_KEYS = {"until_executed": ["ue-0", "ue-1", "ue-2", "ue-3"], "while_executing": ["we-0", "we-1"]}
LOCK_NAMES = ["soak-lock-0", "soak-lock-1"]
# Limited jobs: at most LIMIT runs of a shop at once, at most RATE starts in any RATE_PER seconds.
SHOPS = ["shop-0", "shop-1"]
LIMIT = jobkit.Limit("soak-shop::{shop}", 2)
RATE = jobkit.Rate("soak-api", 4, per=2, max_wait=600)
BATCH_ITEMS = 1500
RETRY = jobkit.Retry(max_attempts=6, backoff=0.5, max_backoff=3, retry_on=(Flaky,))
DOOMED_RETRY = jobkit.Retry(max_attempts=2, backoff=0.5, max_backoff=1, retry_on=(Flaky,))
DRAIN_SECONDS = 240
# Jobs waiting on the queues above which the producers pause.
MAX_BACKLOG = 60
CONNECTION_ERRORS = (redis.ConnectionError, redis.TimeoutError)


@dataclass
class Soak:
	server: RedisServer
	directory: Path
	rng: random.Random
	accepted: dict = field(default_factory=dict)  # ticket -> kind
	doomed: set = field(default_factory=set)
	refused: Counter = field(default_factory=Counter)
	kills: list = field(default_factory=list)  # (worker pid, time)
	died: list = field(default_factory=list)  # (worker pid, time) of workers found dead, not killed here
	restarts: int = 0
	reenqueued: Counter = field(default_factory=Counter)  # after a kill: accepted / refused
	batches: dict = field(default_factory=dict)  # name -> handle
	lock: threading.Lock = field(default_factory=threading.Lock)
	stop: threading.Event = field(default_factory=threading.Event)
	processes: list = field(default_factory=list)
	figures: dict = field(default_factory=dict)

	# Processes --------------------------------------------------------------------------------

	def start_worker(self) -> subprocess.Popen:
		command = [sys.executable, "-m", "rq.cli", "worker", "--url", self.server.url, "--path", str(REPO)]
		command += ["--worker-class", "jobkit.engine.worker.Worker", "--logging_level", "WARNING", *QUEUES]
		log = open(self.directory / f"worker-{len(self.processes)}.log", "w")
		process = subprocess.Popen(
			command, cwd=REPO, env=_env(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True
		)
		self.processes.append(process)
		return process

	def start_promoter(self, number: int) -> subprocess.Popen:
		command = [sys.executable, "-m", "jobkit.engine.promoter", "--url", self.server.url]
		command += ["--interval", "0.5", "--namespace", NAMESPACE]
		log = open(self.directory / f"promoter-{number}.log", "w")
		return subprocess.Popen(command, cwd=REPO, env=_env(), stdout=log, stderr=subprocess.STDOUT)

	def given_back(self) -> int:
		"""Jobs the promoters' reaping gave back to their queue (their log says so, one line each)."""
		logs = self.directory.glob("promoter-*.log")
		return sum(line.endswith(": given back\n") for log in logs for line in log.open())

	# Producers ------------------------------------------------------------------------------------

	def produce(self, until: float) -> None:
		kinds = ["unique"] * 4 + ["retry"] * 2 + ["delayed"] * 2 + ["lock", "progress", "plain"]
		kinds += ["limited"] * 2 + ["rated"]
		connection = jobkit.get_host().connection
		while time.time() < until and not self.stop.is_set():
			try:
				backlog = sum(connection.llen(f"rq:queue:{name}") for name in QUEUES)
			except CONNECTION_ERRORS:
				backlog = 0
			if backlog > MAX_BACKLOG:
				# Keep the workers busy, not buried: the chaos is about kills, not an endless queue.
				time.sleep(0.2)
				continue
			kind = self.rng.choice(kinds)
			ticket = f"{kind}-{os.urandom(6).hex()}"
			try:
				if self.enqueue(kind, ticket, until):
					with self.lock:
						self.accepted[ticket] = kind
				else:
					self.refused[kind] += 1
			except CONNECTION_ERRORS:
				# Redis is restarting: this call was not accepted (the caller knows, and may retry).
				self.refused["connection error"] += 1
				time.sleep(0.2)
			time.sleep(self.rng.uniform(0.02, 0.12))

	def enqueue(self, kind: str, ticket: str, until: float) -> bool:
		"""Enqueue one job; False when it was not accepted (a duplicate of a held unique job)."""
		rng = self.rng
		if kind == "unique":
			# while_executing runs wait for each other, holding a worker: fewer of them.
			lock_type = "while_executing" if rng.random() < 0.25 else "until_executed"
			key = rng.choice(UNIQUE_KEYS[lock_type])
			handle = jobkit.enqueue(
				"benchmarks.soak_jobs.unique_work",
				queue=rng.choice(QUEUES),
				job_id=key,
				unique=lock_type,
				on_conflict="skip",
				retry=RETRY,
				ticket=ticket,
				key=key,
				seconds=rng.uniform(0.2, 1.2),
			)
			return not handle.duplicate
		if kind == "retry":
			doomed = rng.random() < 0.2
			jobkit.enqueue(
				"benchmarks.soak_jobs.flaky",
				retry=DOOMED_RETRY if doomed else RETRY,
				ticket=ticket,
				failures=9 if doomed else rng.choice([1, 2]),
			)
			if doomed:
				with self.lock:
					self.doomed.add(ticket)
			return True
		if kind == "delayed":
			delay = rng.uniform(0.5, max(1.0, min(20.0, until - time.time())))
			jobkit.enqueue(
				"benchmarks.soak_jobs.delayed",
				delay=delay,
				retry=RETRY,
				ticket=ticket,
				due=time.time() + delay,
			)
			return True
		if kind == "lock":
			jobkit.enqueue(
				"benchmarks.soak_jobs.locked",
				queue=rng.choice(QUEUES),
				retry=RETRY,
				ticket=ticket,
				name=rng.choice(LOCK_NAMES),
				seconds=rng.uniform(0.1, 0.8),
			)
			return True
		if kind == "limited":
			jobkit.enqueue(
				"benchmarks.soak_jobs.limited",
				queue=rng.choice(QUEUES),
				concurrency=LIMIT,
				retry=RETRY,
				ticket=ticket,
				shop=rng.choice(SHOPS),
				seconds=rng.uniform(0.1, 0.6),
			)
			return True
		if kind == "rated":
			jobkit.enqueue("benchmarks.soak_jobs.rated", rate=RATE, retry=RETRY, ticket=ticket)
			return True
		if kind == "progress":
			jobkit.enqueue("benchmarks.soak_jobs.reporting", retry=RETRY, ticket=ticket, steps=40)
			return True
		jobkit.enqueue("benchmarks.soak_jobs.delayed", retry=RETRY, ticket=ticket, due=time.time())
		return True

	def start_batch(self, name: str) -> None:
		while True:
			try:
				self.batches[name] = jobkit.batch(
					"benchmarks.soak_jobs.batch_item",
					items=list(range(BATCH_ITEMS)),
					chunk_size=30,
					per_item=True,
					max_parallel=3,
					retry=jobkit.Retry(max_attempts=12, backoff=0.5, max_backoff=3),
					on_complete="benchmarks.soak_jobs.batch_completed",
					title=f"soak batch {name}",
					batch=name,
				)
				return
			except CONNECTION_ERRORS:
				time.sleep(0.5)

	# Chaos ----------------------------------------------------------------------------------------

	def chaos(self, until: float, restart_at: float) -> None:
		next_kill = time.time() + self.rng.uniform(2, 4)
		while time.time() < until and not self.stop.is_set():
			now = time.time()
			if self.restarts == 0 and now >= restart_at:
				self.server = self.server.restart()
				self.restarts += 1
			if now >= next_kill:
				self.kill_a_worker()
				next_kill = now + self.rng.uniform(3, 6)
			self.replace_dead_workers()
			time.sleep(0.2)

	def live_workers(self) -> list[subprocess.Popen]:
		return [process for process in self.processes if process.poll() is None]

	def kill_a_worker(self) -> None:
		victim = self.rng.choice(self.live_workers())
		os.killpg(victim.pid, signal.SIGKILL)  # the worker and the job it runs: a lost machine
		victim.wait()
		victim.replaced = True
		self.kills.append((victim.pid, time.time()))
		self.start_worker()
		try:
			key = jobkit.get_host().connection.hget("soak:unique-of", str(victim.pid))
		except CONNECTION_ERRORS:
			key = None
		if key is not None and key.decode() in UNIQUE_KEYS["until_executed"]:
			threading.Thread(target=self.enqueue_after_lapse, args=(key.decode(),), daemon=True).start()

	def enqueue_after_lapse(self, key: str) -> None:
		"""Enqueue ``key`` again as soon as the killed run's key has run out: a new call taking it
		before the reaper retries the killed run supersedes that retry."""
		connection = jobkit.get_host().connection
		deadline = time.time() + LEASE_SECONDS * 2
		try:
			while connection.exists(keys.unique(NAMESPACE, key)) and time.time() < deadline:
				time.sleep(0.02)
			ticket = f"unique-{os.urandom(6).hex()}"
			handle = jobkit.enqueue(
				"benchmarks.soak_jobs.unique_work",
				job_id=key,
				unique="until_executed",
				on_conflict="skip",
				retry=RETRY,
				ticket=ticket,
				key=key,
				seconds=self.rng.uniform(0.2, 1.2),
			)
		except CONNECTION_ERRORS:
			self.reenqueued["refused (redis restarting)"] += 1
			return
		if handle.duplicate:
			self.reenqueued["refused (the retry took the key first)"] += 1
			return
		with self.lock:
			self.accepted[ticket] = "unique"
		self.reenqueued["accepted"] += 1

	def replace_dead_workers(self) -> None:
		for process in self.unreplaced_workers():
			if process.poll() is not None:  # it exited by itself: one killed here is replaced at once
				process.replaced = True
				self.died.append((process.pid, time.time()))
				self.start_worker()

	def unreplaced_workers(self) -> list[subprocess.Popen]:
		return [p for p in self.processes if not getattr(p, "replaced", False)]


def _env() -> dict:
	env = {key: value for key, value in os.environ.items() if not key.startswith("JOBKIT_")}
	env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
	return env


def run(minutes: float, workers: int, seed: int) -> int:
	directory = Path(tempfile.mkdtemp(prefix="jobkit-soak-"))
	server = start_redis(directory, "--appendonly", "yes", "--appendfsync", "everysec")
	soak = Soak(server, directory, random.Random(seed))
	jobkit.configure(
		redis_url=server.url,
		namespace=NAMESPACE,
		lease_seconds=LEASE_SECONDS,
		queues={name: 120 for name in QUEUES},
	)
	promoters = [soak.start_promoter(number) for number in (1, 2)]
	for _ in range(workers):
		soak.start_worker()
	started = time.time()
	until = started + minutes * 60
	print(f"soak: {minutes:g} min, {workers} workers, seed {seed}, logs in {directory}", flush=True)
	try:
		soak.start_batch("A")
		producers = [threading.Thread(target=soak.produce, args=(until,)) for _ in range(2)]
		chaos = threading.Thread(target=soak.chaos, args=(until, started + (until - started) * 0.45))
		for thread in [*producers, chaos]:
			thread.start()
		time.sleep((until - started) * 0.3)
		soak.start_batch("B")
		for thread in [*producers, chaos]:
			thread.join()
		print(f"soak: load ended after {time.time() - started:.0f} s; draining", flush=True)
		drained = drain(soak)
		results = check(soak, drained)
	finally:
		soak.stop.set()
		for process in soak.live_workers():
			os.killpg(process.pid, signal.SIGTERM)
		for process in [*soak.processes, *promoters]:
			if process.poll() is None:
				process.terminate()
			try:
				process.wait(timeout=30)
			except subprocess.TimeoutExpired:
				process.kill()
		soak.server.stop()
	return report(soak, results, time.time() - started)


def finished_tickets(connection) -> set[str]:
	done = {member.decode() for member in connection.smembers("soak:ok")}
	dead = {letter.job["kwargs"].get("ticket") for letter in jobkit.dead_letters().list(limit=100_000)}
	return done | dead | set(superseded_tickets())


def superseded_tickets() -> list[str]:
	records = jobkit.skipped_runs().list(limit=100_000)
	return [record.job["kwargs"].get("ticket") for record in records if record.reason == "superseded"]


def drain(soak: Soak) -> bool:
	"""Wait until every accepted job and both batches have ended, then until no key is held."""
	connection = jobkit.get_host().connection
	deadline = time.time() + DRAIN_SECONDS
	next_note = time.time() + 15
	while time.time() < deadline:
		soak.replace_dead_workers()
		open_jobs = set(soak.accepted) - finished_tickets(connection)
		batches_open = [name for name, handle in soak.batches.items() if not handle.state()["finished_at"]]
		held = held_keys(connection)
		if not open_jobs and not batches_open and not held:
			print(f"soak: drained in {DRAIN_SECONDS - (deadline - time.time()):.0f} s", flush=True)
			return True
		if time.time() >= next_note:
			print(
				f"soak: draining: {len(open_jobs)} jobs and {len(batches_open)} batches open, "
				f"{len(held)} keys held",
				flush=True,
			)
			next_note = time.time() + 15
		time.sleep(1)
	return False


def held_keys(connection) -> list[str]:
	patterns = [
		keys.UNIQUE.format(namespace=NAMESPACE, job_id="*"),
		keys.RUNNING.format(namespace=NAMESPACE, job_id="*"),
		keys.LOCK.format(namespace=NAMESPACE, name="*"),
	]
	held = [key.decode() for pattern in patterns for key in connection.scan_iter(match=pattern, count=500)]
	held += [key for key in (keys.in_flight(NAMESPACE), keys.TAKEN) if connection.zcard(key)]
	held += [f"gate {g['key']}" for g in gates.state(connection) if g["held"] or g["waiting"]]
	return held


def most_at_once(by_group: dict) -> dict:
	"""Per group, the most intervals open at one moment."""
	most = {}
	for name, runs in by_group.items():
		moments = sorted([(start, 1) for start, _, _ in runs] + [(end, -1) for _, end, _ in runs])
		open_now = peak = 0
		for _, change in moments:  # an end at the same moment as a start comes first
			open_now += change
			peak = max(peak, open_now)
		most[name] = peak
	return most


def intervals(entries: list[dict], soak: Soak, start_event: str, end_event: str, group: str):
	"""Per ``group`` value, the (start, end, rq_id) of each run; a killed run ends at its kill."""
	ends = {entry["rq_id"]: entry["at"] for entry in entries if entry["event"] == end_event}
	stops = sorted([*soak.kills, *soak.died], key=lambda stop: stop[1])
	by_group, unknown = defaultdict(list), 0
	for entry in entries:
		if entry["event"] != start_event:
			continue
		end = ends.get(entry["rq_id"])
		if end is None:
			end = next((at for pid, at in stops if pid == entry["worker"] and at >= entry["at"]), None)
		if end is None:
			unknown += 1  # its process was not killed here, yet it recorded no end
			end = entry["at"]
		by_group[entry[group]].append((entry["at"], end, entry["rq_id"]))
	return by_group, unknown


def overlaps(by_group: dict) -> list[str]:
	found = []
	for name, runs in by_group.items():
		latest_end, latest = float("-inf"), None
		for start, end, rq_id in sorted(runs):
			if start < latest_end:
				found.append(f"{name}: {rq_id} started {latest_end - start:.3f} s before {latest} ended")
			if end > latest_end:
				latest_end, latest = end, rq_id
	return found


def diagnose(connection, tickets: list[str]) -> list[str]:
	"""Where the RQ jobs of lost tickets are: their status, and which queue or registry holds them."""
	from rq.job import Job
	from rq.registry import FailedJobRegistry, ScheduledJobRegistry, StartedJobRegistry

	if not tickets:
		return []
	found = {ticket: [] for ticket in tickets}
	for key in connection.scan_iter(match=Job.redis_job_namespace_prefix + "*", count=1000):
		job_id = key.decode()[len(Job.redis_job_namespace_prefix) :]
		try:
			job = Job.fetch(job_id, connection=connection)
			ticket = job.kwargs.get("job", {}).get("kwargs", {}).get("ticket")
		except Exception:
			continue
		if ticket in found:
			queue = jobkit.get_host().rq_queue(job.origin)
			places = [
				name
				for name, ids in (
					("queue", queue.get_job_ids()),
					("started", StartedJobRegistry(queue=queue).get_job_ids()),
					("failed", FailedJobRegistry(queue=queue).get_job_ids()),
					("scheduled", ScheduledJobRegistry(queue=queue).get_job_ids()),
					("taken", [raw.decode() for raw in connection.zrange(keys.TAKEN, 0, -1)]),
				)
				if job.id in ids
			]
			found[ticket].append(
				f"{job.id} {job.get_status()} in {', '.join(places) or 'no queue or registry'}"
			)
	return [f"{ticket}: {'; '.join(jobs) or 'no RQ job'}" for ticket, jobs in found.items()]


def exclusive(name: str, found: tuple, what: str, of: str) -> tuple[str, bool, str]:
	"""The result line of an invariant that no two intervals of one group overlap."""
	by_group, unknown = found
	overlapping = overlaps(by_group)
	detail = f"{sum(map(len, by_group.values()))} {what} of {len(by_group)} {of}"
	detail += f"; {overlapping[:2]}" if overlapping else ""
	detail += f"; {unknown} ended unseen" if unknown else ""
	return name, not overlapping, detail


def check(soak: Soak, drained: bool) -> list[tuple[str, bool, str]]:
	connection = jobkit.get_host().connection
	runs = [json.loads(raw) for raw in connection.lrange("soak:runs", 0, -1)]
	holds = [json.loads(raw) for raw in connection.lrange("soak:holds", 0, -1)]
	results = []

	missing = set(soak.accepted) - finished_tickets(connection)
	superseded = superseded_tickets()
	done = {member.decode() for member in connection.smembers("soak:ok")}
	results.append(
		(
			"a superseded call did not also run",
			not done & set(superseded) and len(superseded) == len(set(superseded)),
			f"{len(superseded)} superseded, {len(done & set(superseded))} of them also ran",
		)
	)
	results.append(
		(
			"nothing lost (success, dead letter, superseded)",
			not missing,
			f"{len(soak.accepted) - len(missing)}/{len(soak.accepted)} accepted jobs accounted for"
			+ "".join(f"; {line}" for line in diagnose(connection, sorted(missing)[:3])),
		)
	)

	unique_runs = intervals(
		[entry for entry in runs if entry["kind"] == "unique"], soak, "start", "end", "key"
	)
	results.append(exclusive("no unique job ran twice at once", unique_runs, "runs", "ids"))
	lock_holds = intervals(holds, soak, "acquired", "releasing", "name")
	results.append(exclusive("no lock held by two owners", lock_holds, "holds", "locks"))

	limited_runs, _ = intervals(
		[entry for entry in runs if entry["kind"] == "limited"], soak, "start", "end", "shop"
	)
	most = most_at_once(limited_runs)
	results.append(
		(
			f"limit never exceeded (at most {LIMIT.n} of a shop)",
			all(peak <= LIMIT.n for peak in most.values()),
			f"{sum(map(len, limited_runs.values()))} runs; most at once: "
			+ (", ".join(f"{shop} {peak}" for shop, peak in sorted(most.items())) or "none"),
		)
	)
	rated_starts = [entry["at"] for entry in runs if entry["kind"] == "rated" and entry["event"] == "start"]
	peak = most_in_any_window(rated_starts, RATE.per) if rated_starts else 0
	results.append(
		(
			f"rate never exceeded ({RATE.n} per {RATE.per} s)",
			peak <= RATE.n,
			f"{len(rated_starts)} starts; most in any {RATE.per} s: {peak}",
		)
	)

	completions = Counter(
		json.loads(raw)["batch"] for raw in connection.lrange("soak:batch-completions", 0, -1)
	)
	bad = sum(1 for item in range(BATCH_ITEMS) if item % 50 == 7)
	for name, handle in soak.batches.items():
		state = handle.state()
		item_runs = connection.hlen(f"soak:batch-runs:{name}")
		exact = (state["total"], state["done"], state["failed"]) == (BATCH_ITEMS, BATCH_ITEMS - bad, bad)
		ok = exact and item_runs == BATCH_ITEMS and completions[handle.id] == 1
		results.append(
			(
				f"batch {name}: counts exact, on_complete once",
				ok,
				f"{state['status']}: done {state['done']}, failed {state['failed']} of {state['total']} "
				f"(expected {BATCH_ITEMS - bad}/{bad}); items run {item_runs}; "
				f"on_complete {completions[handle.id]}x",
			)
		)

	left = held_keys(connection)
	results.append(
		(
			"no key left after drain",
			drained and not left,
			"unique keys, locks, in-flight runs, taken notes: " + (", ".join(left[:5]) if left else "none"),
		)
	)

	ended_progress = [entry for entry in runs if entry["kind"] == "progress" and entry["event"] == "end"]
	wrong = []
	for entry in ended_progress:
		state = jobkit.progress_of(entry["rq_id"])
		if not state or state["status"] != "done" or state["done"] != state["total"]:
			wrong.append(entry["rq_id"])
	results.append(
		(
			"progress kept in its final state",
			not wrong,
			f"{len(ended_progress) - len(wrong)}/{len(ended_progress)} runs"
			+ (f"; e.g. {wrong[:2]}" if wrong else ""),
		)
	)
	letters = jobkit.dead_letters().list(limit=100_000)
	soak.figures = {
		"runs": runs,
		"duplicates": len(overlaps(unique_runs[0])) + len(overlaps(lock_holds[0])),
		"dead letters": len(letters),
		"superseded": len(superseded),
		"other dead letters": [
			letter.error for letter in letters if letter.job["kwargs"].get("ticket") not in soak.doomed
		],
	}
	return results


def report(soak: Soak, results: list, seconds: float) -> int:
	runs = soak.figures["runs"]
	starts = [entry for entry in runs if entry["event"] == "start"]
	unexpected = soak.figures["other dead letters"]
	versions = ", ".join(f"{name} {metadata.version(name)}" for name in ("rq", "redis"))
	print(f"\njobkit chaos soak ({versions}), {seconds:.0f} s in all\n")
	print(f"  {'invariant':48} {'result':6}  detail")
	for name, passed, detail in results:
		print(f"  {name:48} {'ok' if passed else 'FAILED':6}  {detail}")
	accepted = Counter(soak.accepted.values())
	print("\nfigures")
	print(
		f"  jobs accepted        {len(soak.accepted)} ({', '.join(f'{k} {v}' for k, v in sorted(accepted.items()))})"
	)
	print(
		f"  not accepted         {sum(soak.refused.values())} ({', '.join(f'{k} {v}' for k, v in sorted(soak.refused.items()))})"
	)
	print(f"  executions           {len(starts)} job runs, plus {2 * BATCH_ITEMS} batch items")
	print(f"  kills survived       {len(soak.kills)} worker process groups SIGKILLed")
	print(f"  workers died else    {len(soak.died)}")
	print(f"  redis restarts       {soak.restarts}")
	print(f"  given back           {soak.given_back()} jobs taken by a killed worker before it started them")
	print(
		f"  retries              {sum(1 for entry in starts if entry['attempt'] > 1)} runs after a first attempt"
	)
	print(
		f"  dead letters         {soak.figures['dead letters']} ({len(soak.doomed)} doomed by design, {len(unexpected)} other)"
	)
	print(
		f"  re-enqueued          {sum(soak.reenqueued.values())} unique ids after their killed run's lease "
		f"({', '.join(f'{k} {v}' for k, v in sorted(soak.reenqueued.items())) or 'none'})"
	)
	print(f"  superseded           {soak.figures['superseded']} retries of killed runs, by a newer copy")
	print(f"  duplicates           {soak.figures['duplicates']}")
	failed = [name for name, passed, _ in results if not passed]
	print(f"\n{'FAILED: ' + '; '.join(failed) if failed else 'all invariants hold'}")
	return 1 if failed else 0


def main() -> None:
	parser = argparse.ArgumentParser(
		description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
	)
	parser.add_argument("--minutes", type=float, default=3.0, help="how long the load runs (default 3)")
	parser.add_argument("--workers", type=int, default=3, help="forking RQ workers (default 3)")
	parser.add_argument("--seed", type=int, default=None, help="random seed (default: a new one)")
	args = parser.parse_args()
	if not args.minutes > 0 or args.workers < 2:
		parser.error("--minutes must be more than 0 and --workers at least 2")
	seed = args.seed if args.seed is not None else random.randrange(1 << 30)
	sys.exit(run(args.minutes, args.workers, seed))


if __name__ == "__main__":
	main()
