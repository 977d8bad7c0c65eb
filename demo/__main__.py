"""The jobkit demo: real RQ workers on a Redis server that `scripts/dev demo` started.

Exits non-zero when something it shows does not behave as described.
"""

import argparse
import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

from rq import Worker

import jobkit
import jobkit.health
from jobkit.engine import defaults, keys
from jobkit.engine import reaper as _reaper
from jobkit.engine.batches import writing as batch_writing
from jobkit.engine.dead_letter import REDACTED
from jobkit.engine.worker import workhorse

REPO = Path(__file__).resolve().parent.parent
QUEUES = ("short", "default", "long")
# jobkit's worker class: RQ's forking worker with jobkit loaded before the fork, taking jobs so
# that a worker lost right after it took one does not lose it (step 13).
WORKER_CLASS = "jobkit.engine.worker.Worker"
WAIT_SECONDS = 60


# The process creating a large batch, killed by the demo while it writes the batch's chunks.
CREATE_BIG_BATCH = """
import sys, jobkit
jobkit.configure(redis_url=sys.argv[1], namespace="demo")
jobkit.batch("demo.jobs.reprice", items=list(range(200_000)), chunk_size=10, max_parallel=1, fail_on=[])
"""


@dataclass
class Tour:
	"""What the demo's steps share: the Redis it runs on, the host, and the problems found so far."""

	redis_url: str
	host: jobkit.RQHost | None = None
	handles: dict = field(default_factory=dict)
	problems: list[str] = field(default_factory=list)

	def check(self, condition: bool, what: str) -> None:
		print(f"   {'ok ' if condition else 'FAIL'} {what}")
		if not condition:
			self.problems.append(what)


def main() -> int:
	parser = argparse.ArgumentParser(description=__doc__)
	parser.add_argument("--redis-url", required=True)
	args = parser.parse_args()
	tour = Tour(args.redis_url)
	configure(tour)
	heading("2. start two real RQ workers (forking, jobkit's class) on short, default and long")
	workers = [start_worker(tour.redis_url) for _ in range(2)]
	try:
		for step in STEPS:
			step(tour)
	finally:
		heading("21. stop the workers: SIGTERM, a warm shutdown that lets running jobs finish")
		codes = [stop_worker(worker) for worker in workers]
		tour.check(all(code == 0 for code in codes), f"workers exited cleanly (exit codes {codes})")
	heading("done" if not tour.problems else f"{len(tour.problems)} problem(s): {tour.problems}")
	return 1 if tour.problems else 0


def configure(tour: Tour) -> None:
	heading("1. configure: one call selects the plain-RQ host (inside a Frappe site, none is needed)")
	# "reports" is a queue no long-running worker listens to, so what waits there can be shown.
	queues = {"short": 300, "default": 300, "long": 1500, "reports": 600}
	# A 2 s lease (60 s by default): a run whose process dies is found by the reaper within 2 s.
	tour.host = jobkit.configure(redis_url=tour.redis_url, namespace="demo", queues=queues, lease_seconds=2)
	print(f"   {tour.host!r}")


def enqueue_on_frappes_queues(tour: Tour) -> None:
	check = tour.check
	heading("3. enqueue: Frappe's queues, default timeouts and site-namespaced job ids")
	handles = {
		"resize": jobkit.enqueue("demo.jobs.resize_images", queue="short", count=4),
		"report": jobkit.enqueue("demo.jobs.nightly_report", queue="long", job_id="report::2026-11-23", day="2026-11-23"),
		"whoami": jobkit.enqueue("demo.jobs.who_am_i", job_id="whoami"),
		"callback": jobkit.enqueue("demo.jobs.resize_images", count=1, on_success="demo.jobs.notify_done"),
		"failing": jobkit.enqueue("demo.jobs.charge_card", amount=42, on_failure="demo.jobs.notify_failed"),
	}  # fmt: skip
	for name, handle in handles.items():
		job = handle.fetch()
		print(
			f"   {name:9} id={handle.id:<34} rq_id={handle.rq_id:<40} queue={handle.queue:8} timeout={job.timeout}"
		)
	check(handles["resize"].fetch().timeout == 300, "short queue default timeout is 300 s")
	check(handles["report"].fetch().timeout == 1500, "long queue default timeout is 1500 s")
	check(
		handles["report"].rq_id.startswith("demo.report%3A%3A2026-11-23#"),
		"job id namespaced, valid on rq 1.x and 2.x",
	)
	tour.handles = handles


def workers_run_them(tour: Tour) -> None:
	host = tour.host
	connection = tour.host.connection
	check = tour.check
	handles = tour.handles
	heading("4. the workers run them (status read live from Redis)")
	final = wait_until_done(handles.values())
	for name, handle in handles.items():
		result = handle.fetch().return_value() if final[handle.id] == "finished" else None
		print(f"   {name:9} {final[handle.id]:9} {result!r}")
	check(final[handles["resize"].id] == "finished", "short-queue job finished")
	check(final[handles["failing"].id] == "failed", "failing job is marked failed")
	check(
		handles["whoami"].fetch().return_value()
		== {"id": "whoami", "queue": "default", "attempt": 1, "namespace": "demo"},
		"a job reads its own id, queue, attempt and namespace with jobkit.current_job()",
	)
	connection = host.connection
	wait_for(lambda: connection.llen("demo:callbacks") >= 2)
	for line in connection.lrange("demo:callbacks", 0, -1):
		print(f"   {line.decode()}")
	check(connection.llen("demo:callbacks") == 2, "on_success and on_failure ran in the worker")
	check(
		wait_for(lambda: "demo.jobs.email_report" in finished_methods(connection, "short")),
		"a job enqueued follow-up work from inside the worker, with no set-up there",
	)


def unique_jobs(tour: Tour) -> None:
	check = tour.check
	heading("5. unique jobs: one atomic claim-and-enqueue per job id (on 'reports', no worker yet)")
	racers = [threading.Thread(target=race, args=(100,)) for _ in range(8)]
	for racer in racers:
		racer.start()
	for racer in racers:
		racer.join()
	claimed = [outcome for outcome in RACE_OUTCOMES if not outcome.duplicate]
	print(
		f"   8 threads x 100 calls with job_id='sync::CUST-7': {len(claimed)} enqueued, "
		f"{len(RACE_OUTCOMES) - len(claimed)} duplicates, all pointing to {claimed[0].rq_id}"
	)
	check(len(claimed) == 1, "exactly one job enqueued by 800 racing calls")
	check(all(o.rq_id == claimed[0].rq_id for o in RACE_OUTCOMES), "every duplicate's handle points to it")
	check(jobkit.is_enqueued("sync::CUST-7"), "jobkit.is_enqueued('sync::CUST-7') while it waits or runs")
	try:
		enqueue_sync(on_conflict="raise")
	except jobkit.DuplicateJob as e:
		print(f"   on_conflict='raise' -> DuplicateJob: {e}")
	first = enqueue_recompute(version=1)
	latest = enqueue_recompute(version=2)
	print(f"   on_conflict='replace' -> {first.rq_id} keeps its place, now with version=2")
	check(latest.replaced and latest.rq_id == first.rq_id, "replace debounced two calls into one queued job")
	run_burst_worker(tour.redis_url, "reports")
	check(claimed[0].status == "finished", "a burst worker on 'reports' ran the one sync job")
	check(
		first.fetch().return_value() == "recomputed with version 2",
		"the debounced job ran with the latest arguments",
	)
	check(not enqueue_sync().duplicate, "once the job has run, its id is free again (until_executed)")
	run_burst_worker(tour.redis_url, "reports")


def delayed_jobs(tour: Tour) -> None:
	check = tour.check
	heading("6. delayed jobs wait in RQ's scheduled registry until jobkit promotes them")
	later = jobkit.enqueue("demo.jobs.email_report", queue="short", delay=3, day="tomorrow")
	check(later.status == "scheduled", "a delayed job waits as 'scheduled', not in the queue")
	print(f"   enqueued with delay=3; promote_due() before it is due moves {jobkit.promote_due()}")
	check(wait_for(lambda: jobkit.promote_due() == 1), "once due, promote_due() moves it onto its queue")
	check(wait_for(lambda: later.status == "finished"), "and a worker runs it")


def retries(tour: Tour) -> None:
	check = tour.check
	heading("7. retries: a job that loses its connection twice succeeds on the third attempt")
	flaky = jobkit.enqueue(
		"demo.jobs.flaky_sync",
		retry=jobkit.Retry(max_attempts=3, backoff=0.5, jitter=False),
		name="flaky",
	)
	check(
		wait_for(lambda: jobkit.promote_due() >= 0 and flaky.status == "finished"),
		"finished after backoffs of 0.5 s and 1 s (attempts are delayed jobs, promoted like any other)",
	)
	print(f"   result: {flaky.fetch().return_value()!r}")
	print(f"   policy: {jobkit.Retry(max_attempts=3, backoff=0.5, jitter=False)!r}")


def dead_letters(tour: Tour) -> None:
	connection = tour.host.connection
	check = tour.check
	heading("8. dead letters: a job that keeps failing leaves a record, retried once the cause is fixed")
	push = jobkit.enqueue(
		"demo.jobs.push_invoice",
		retry=jobkit.Retry(max_attempts=2, backoff=0.5, jitter=False),
		invoice="INV-0042",
		api_token="tok-live-9f2c",
	)

	def letters_of_push() -> list:
		return [letter for letter in jobkit.dead_letters().list() if letter.job_id == push.id]

	check(
		wait_for(lambda: jobkit.promote_due() >= 0 and letters_of_push()),
		"both attempts failed: one dead letter (section 5's declined card left one too)",
	)
	[letter] = letters_of_push()
	for failure in letter.failures:
		print(f"   attempt {failure['attempt']}: {failure['error']}")
	print(f"   kwargs as shown: {letter.kwargs}")
	check(letter.kwargs["api_token"] == REDACTED, "the token is not shown")
	connection.set("demo:bank-up", 1)
	again = jobkit.dead_letters().retry(letter.id)
	check(wait_for(lambda: again.status == "finished"), "retried after the fix: the stored job ran")
	print(f"   result: {again.fetch().return_value()!r} (first run {push.rq_id}, retry {again.rq_id})")
	try:
		jobkit.dead_letters().retry(letter.id)
	except jobkit.UnknownDeadLetter as e:
		print(f"   retry it again: {type(e).__name__}: {e}")


def locks(tour: Tour) -> None:
	check = tour.check
	heading("9. jobkit.lock: one holder at a time, across processes; only the owner releases")
	with jobkit.lock("recompute::ACME", ttl=30) as held:
		try:
			jobkit.lock("recompute::ACME", wait=0.2).acquire()
		except jobkit.LockTimeout as e:
			print(f"   a second owner: {type(e).__name__}: {e}")
		check(held.locked(), "the first owner still holds it")
	check(not held.locked(), "released at the end of the block")


def job_decorator(tour: Tour) -> None:
	check = tour.check
	heading("10. @jobkit.job: defaults declared on the function")
	from demo.jobs import rebuild_search_index

	indexed = rebuild_search_index.enqueue(doctype="Customer")
	print(f"   {rebuild_search_index!r}")
	check((indexed.queue, indexed.fetch().timeout) == ("long", 900), "enqueued on 'long' with timeout 900")
	check(wait_for(lambda: indexed.status == "finished"), "and run by a worker")
	print(f"   result: {indexed.fetch().return_value()!r}; called directly: {rebuild_search_index()!r}")


def now_runs_here(tour: Tour) -> None:
	check = tour.check
	heading("11. now=True (or is_async=False) runs the job here, through the same wrapper")
	inline = jobkit.enqueue("demo.jobs.resize_images", now=True, count=2)
	print(f"   status={inline.status} result={inline.result!r}")
	check(inline.result == "resized 2 images", "inline run returned the result")
	sync = jobkit.enqueue("demo.jobs.resize_images", is_async=False, count=3)
	check(sync.result == "resized 3 images", "is_async=False runs here too, as frappe.enqueue does")
	try:
		jobkit.enqueue("demo.jobs.resize_images", is_async="no", count=1)
	except jobkit.InvalidArgument as e:
		print(f"   refused: {e}")


def lost_runs_are_reaped(tour: Tour) -> None:
	host = tour.host
	connection = tour.host.connection
	check = tour.check
	heading(
		"12. a work-horse killed mid-job (as by the OOM killer), or its worker: the reaper retries the run"
	)
	imported = enqueue_import("ACME", job_id="import::ACME")
	pid = import_pid(connection)
	os.kill(pid, signal.SIGKILL)
	print(
		f"   SIGKILL to the work-horse (pid {pid}) running attempt 1; RQ marks it failed, jobkit knows nothing"
	)
	reaped: list = []
	check(
		wait_for(lambda: reaped.extend(jobkit.reap()) or reaped),
		"jobkit.reap() found the run once its 2 s lease went unrenewed",
	)
	for found in reaped:
		print(f"   reaped {found.rq_id}: {found.outcome} (attempt {found.attempt} of {found.method})")
	check(
		wait_for(lambda: jobkit.promote_due() >= 0 and imported.status == "finished"),
		"attempt 2 ran under the job's retry policy, with the unique key passed on",
	)
	print(f"   result: {imported.fetch().return_value()!r}")
	print("   without a policy the run would be a dead letter: WorkerLost, its unique key released")
	if workhorse.supported():
		worker_killed_alone(tour.redis_url, host, check)
	superseded_by_a_newer_call(tour.redis_url, host, check)


def a_lost_worker_gives_back(tour: Tour) -> None:
	host = tour.host
	connection = tour.host.connection
	check = tour.check
	heading("13. a worker lost right after it took a job off its queue: the reaper gives the job back")
	emailed = jobkit.enqueue("demo.jobs.email_report", queue="reports", day="2026-11-24")
	lost = run_worker(tour.redis_url, "reports", worker_class="demo.jobs.WorkerLostAfterTaking")
	print(f"   a worker took {emailed.rq_id} and died (exit {lost}) before starting it, as on a lost machine")
	# A dead worker stays registered in RQ until its key expires (minutes); a supervisor's
	# restart would replace it. Deregistered here, so that step 17 does not count it.
	for dead in Worker.all(queue=host.rq_queue("reports")):
		dead.register_death()
	check(
		emailed.rq_id not in host.rq_queue("reports").job_ids
		and connection.zscore(keys.TAKEN, emailed.rq_id) is not None,
		f"the job is off its queue; the worker's note in {keys.TAKEN} is all that knows of it",
	)
	print(
		"   (RQ's own worker pops with no note: the job would now be in no queue and, on rq 1.x, no registry)"
	)
	# jobkit.reap() does this once the note has ended (30 s); the demo asks as of then.
	given_back = _reaper.reap(host, now=time.time() + defaults.TAKEN_SECONDS + 1)
	for found in given_back:
		print(f"   reaped {found.rq_id}: {found.outcome}")
	check(
		[found.outcome for found in given_back] == ["given back"]
		and host.rq_queue("reports").job_ids == [emailed.rq_id],
		"once the note ended, the reaper put the job back at the front of its queue",
	)
	run_burst_worker(tour.redis_url, "reports")
	check(emailed.status == "finished", f"and it ran: {emailed.fetch().return_value()!r}")


def pausing_a_queue(tour: Tour) -> None:
	host = tour.host
	check = tour.check
	heading("14. pause_queue: jobkit's workers start no job from a paused queue until it is resumed")
	unaware = jobkit.pause_queue("reports")
	emailed = jobkit.enqueue("demo.jobs.email_report", queue="reports", day="2026-11-25")
	run_burst_worker(tour.redis_url, "reports")  # a worker restarted while the queue is paused
	check(
		emailed.status == "queued" and jobkit.paused_queues() == ["reports"] and unaware == [],
		"paused: a worker on 'reports' started nothing, and the enqueue was still accepted",
	)
	[note] = [f for f in jobkit.health.check().findings if f.check == "paused"]
	print(f"   health: {note.severity} {note.message}")
	jobkit.resume_queue("reports")
	run_burst_worker(tour.redis_url, "reports")
	check(emailed.status == "finished", f"resumed, it ran: {emailed.fetch().return_value()!r}")
	check(host.rq_queue("reports").count == 0, "and nothing is left on 'reports'")


def batches(tour: Tour) -> None:
	host = tour.host
	connection = tour.host.connection
	check = tour.check
	heading("15. jobkit.batch: 2 000 items in chunks of 100, at most 2 chunks at a time, one failing item")
	connection.delete("demo:repriced", "demo:prices-fixed", "demo:batch-summaries")
	batch = jobkit.batch(
		"demo.jobs.reprice",
		items=list(range(2000)),
		chunk_size=100,
		max_parallel=2,
		per_item=True,
		on_complete="demo.jobs.batch_done",
		title="Reprice the catalogue",
		fail_on=[1234],
	)
	print(f"   {batch!r}: {batch.counts['chunks']} chunks")
	check(wait_for(lambda: batch.state()["finished_at"]), "the batch ended")
	state = batch.state()
	print(
		f"   status={state['status']!r} total={state['total']} done={state['done']} failed={state['failed']}"
	)
	check(
		(state["status"], state["done"], state["failed"]) == ("Completed with errors", 1999, 1),
		"counts are exact and the status says some items failed",
	)
	print(f"   failed items: {batch.failed_items()}")
	summaries = [json.loads(entry) for entry in connection.lrange("demo:batch-summaries", 0, -1)]
	check(len(summaries) == 1, f"on_complete ran once (duration {summaries[0]['duration']} s)")
	connection.set("demo:prices-fixed", 1)
	retried = batch.retry_failed()
	check(
		wait_for(lambda: retried.state()["finished_at"]) and retried.status == "Completed",
		f"retry_failed() ran exactly the failed item again: {retried.counts}",
	)
	slow = jobkit.batch(
		"demo.jobs.slow_reprice", items=list(range(1000)), chunk_size=50, max_parallel=1, per_item=True
	)
	wait_for(lambda: slow.state()["done"] or slow.state()["started_at"])
	slow.cancel()
	check(
		wait_for(lambda: slow.state()["finished_at"]) and slow.status == "Cancelled",
		f"a cancelled batch ends Cancelled, the running chunk stopping at its next item: {slow.counts}",
	)
	# A batch is made with its first chunks, which run while the rest are written. A process
	# that dies while writing them leaves a batch the reaper cancels once the writer is overdue.
	creator = subprocess.Popen([sys.executable, "-c", CREATE_BIG_BATCH, tour.redis_url], cwd=REPO)
	writing = keys.batches_writing(host.namespace)
	check(
		wait_for(lambda: connection.zcard(writing)),
		"a batch of 20 000 chunks is made; its first chunks run",
	)
	creator.kill()
	creator.wait()
	big = jobkit.BatchHandle(host, connection.zrange(writing, 0, -1)[0].decode())
	print(f"   SIGKILL to the process creating it, after {big.state()['written']} of its chunks were written")
	# jobkit.reap() does this once the writer has not been heard of for 60 s; the demo asks as of then.
	reaped = _reaper.reap(host, now=time.time() + batch_writing.WRITING_SECONDS + 1)
	check(
		[(found.rq_id, found.outcome) for found in reaped if found.rq_id == big.id]
		== [(big.id, "cancelled")],
		"the reaper gave the batch up: the chunks never written are dropped",
	)
	ended = wait_for(lambda: big.state()["finished_at"])
	state = big.state()
	check(
		ended
		and state["status"] == "Cancelled"
		and state["chunks_done"] + state["chunks_dropped"] == state["chunks"],
		f"it ends Cancelled: {state['chunks_done']} chunks ran, {state['chunks_dropped']} dropped, "
		f"of {state['chunks']}",
	)


def progress(tour: Tour) -> None:
	connection = tour.host.connection
	check = tour.check
	heading("16. jobkit.progress: throttled, kept after the end, cancellable")
	listener = connection.pubsub(ignore_subscribe_messages=True)
	listener.subscribe("jobkit:demo:events")
	imported_rows = jobkit.enqueue("demo.jobs.import_rows", rows=400, seconds=2)
	check(
		wait_for(lambda: imported_rows.status == "finished"),
		"a job reported progress over 400 rows in ~2 s",
	)
	received = []
	quiet_until = time.monotonic() + 0.5  # read until the channel has been quiet for half a second
	while time.monotonic() < quiet_until:
		message = listener.get_message(timeout=0.1)
		if message is None:
			continue
		quiet_until = time.monotonic() + 0.5
		event = json.loads(message["data"])
		if event["event"] == "jobkit_progress" and event["message"]["id"] == imported_rows.rq_id:
			received.append(event)
	listener.close()
	print(f"   {len(received)} messages for 400 advance() calls, e.g. room={received[0]['room']!r}")
	for event in received:
		state = event["message"]
		print(
			f"     {state['status']:8} {state['done']:>3}/{state['total']} {state['percent']:>5}% stage={state['stage']}"
		)
	kept = jobkit.progress_of(imported_rows.rq_id)
	seconds = kept["updated_at"] - kept["started_at"]
	check(
		len(received) <= seconds * 4 + 2,
		f"at most 4 a second over {seconds:.2f} s, plus the first and the last",
	)
	check(
		kept["status"] == "done" and kept["done"] == 400,
		"the final state is kept: a reload would show it",
	)
	long_import = jobkit.enqueue("demo.jobs.import_rows", rows=1000, seconds=60)
	wait_for(lambda: (jobkit.progress_of(long_import.rq_id) or {}).get("done"))
	jobkit.cancel_job(long_import.rq_id)
	check(
		wait_for(lambda: long_import.status == "finished")
		and jobkit.progress_of(long_import.rq_id)["status"] == "cancelled",
		f"cancel_job: the job saw the flag and stopped ({long_import.fetch().return_value()!r})",
	)


def health(tour: Tour) -> None:
	check = tour.check
	heading("17. jobkit.health.check(): queues, workers, Redis, at a cost flat in queue length")
	report = jobkit.health.check()
	print(f"   verdict {report.verdict} (collected in {report.duration_ms} ms)")
	for q in report.queues:
		print(f"     {q.name:8} pending {q.pending:>3}  workers {q.workers} (busy {q.busy}, idle {q.idle})")
	for finding in report.findings:
		print(f"     {finding.severity:8} {finding.check}: {finding.message}")
	flagged = {f.queue for f in report.findings if f.check == "no_worker"}
	check(
		flagged == {"reports"},
		"the one queue no worker listens to is flagged Critical; the others are fine",
	)


def stats(tour: Tour) -> None:
	check = tour.check
	heading("18. jobkit.job_stats(): every run the workers ended, per queue and method, by minute")
	since = datetime.now(timezone.utc) - timedelta(minutes=30)
	summary = jobkit.job_stats(since=since)
	total = summary["total"]
	print(
		f"   last 30 min: {total['runs']} runs, {total['failures']} failed, "
		f"p95 {total['p95_ms']} ms, mean wait {total['mean_wait_ms']} ms"
	)
	for row in summary["methods"][:5]:
		print(
			f"     {row['queue']:8} {row['method']:28} runs {row['runs']:>4}  failed {row['failures']:>3}  "
			f"total {row['total_seconds']:>6} s  p95 {row['p95_ms']} ms"
		)
	flaky = next((row for row in summary["methods"] if row["method"] == "demo.jobs.flaky_sync"), None)
	check(
		flaky is not None and flaky["failures"] >= 1 and flaky["runs"] > flaky["failures"],
		"the retried job's failed attempts are counted as failed runs, its last one as a run that ended well",
	)
	try:
		jobkit.job_stats(since=since, resolution="day")
	except jobkit.JobkitError as e:
		print(f"   a bad resolution: {type(e).__name__}: {e}")


def flow_control(tour: Tour) -> None:
	connection = tour.host.connection
	check = tour.check
	heading("19. flow control: at most 2 syncs of a shop at once, at most 3 bank calls a second")
	connection.delete("demo:limited", "demo:bank")
	per_shop = jobkit.Limit("shopify::{shop}", 2)
	syncs = [
		jobkit.enqueue("demo.jobs.sync_orders", queue="reports", shop="acme", page=page, concurrency=per_shop)
		for page in range(6)
	]
	bank = jobkit.Rate("bank", 3, per=1)
	calls = [jobkit.enqueue("demo.jobs.call_bank", queue="reports", statement=i, rate=bank) for i in range(7)]
	waiting = [h.status for h in syncs + calls].count("deferred")
	print(f"   enqueued 6 syncs and 7 bank calls: {waiting} wait at their limit, in no queue")
	for limit in jobkit.health.check().limits:
		print(f"   health: {limit.description}: taken {limit.held}, waiting {limit.waiting}")
	workers = [start_worker(tour.redis_url, "reports") for _ in range(3)]
	try:
		check(wait_for(lambda: all(h.status == "finished" for h in syncs + calls)), "every job ran")
	finally:
		for worker in workers:
			stop_worker(worker)
	events = sorted(
		(json.loads(raw) for raw in connection.lrange("demo:limited", 0, -1)), key=lambda e: e["at"]
	)
	running = most = 0
	for event in events:
		running += 1 if event["event"] == "start" else -1
		most = max(most, running)
	check(most == 2, f"3 workers, yet at most {most} syncs of acme ran at once")
	starts = sorted(float(raw) for raw in connection.lrange("demo:bank", 0, -1))
	in_a_second = max(sum(1 for t in starts if s <= t < s + 1) for s in starts)
	check(in_a_second <= 3, f"at most {in_a_second} bank calls started in any second")


def bad_input(tour: Tour) -> None:
	connection = tour.host.connection
	check = tour.check
	heading("20. bad input: a clear error, and nothing is enqueued")
	before = job_count(connection)
	bad_calls = [
		("unknown queue", lambda: jobkit.enqueue("demo.jobs.resize_images", queue="urgent", count=1)),
		("timeout <= 0", lambda: jobkit.enqueue("demo.jobs.resize_images", timeout=0, count=1)),
		("not importable", lambda: jobkit.enqueue("demo.jobs.resize_imagez", count=1)),
		("a lambda", lambda: jobkit.enqueue(lambda: None)),
		("unserialisable", lambda: jobkit.enqueue("demo.jobs.resize_images", count=threading.Lock())),
		("too large", lambda: jobkit.enqueue("demo.jobs.resize_images", count=1, blob="x" * 2_000_000)),
		(
			"unique, no id",
			lambda: jobkit.enqueue("demo.jobs.resize_images", unique="until_executed", count=1),
		),
		(
			"bad lock type",
			lambda: jobkit.enqueue("demo.jobs.resize_images", job_id="x", unique="forever", count=1),
		),
		("negative delay", lambda: jobkit.enqueue("demo.jobs.resize_images", delay=-5, count=1)),
		(
			"bad retry",
			lambda: jobkit.enqueue(
				"demo.jobs.resize_images", retry=jobkit.Retry(backoff=100, max_backoff=10), count=1
			),
		),
		("lock ttl <= 0", lambda: jobkit.lock("recompute::ACME", ttl=0)),
		("job option", lambda: jobkit.job(queue="long", customer="ACME")),
		("reap limit", lambda: jobkit.reap(limit=0)),
		("batch, no items", lambda: jobkit.batch("demo.jobs.reprice", chunk_size=10, fail_on=[])),
		("batch chunk 0", lambda: jobkit.batch("demo.jobs.reprice", items=[1], chunk_size=0, fail_on=[])),
		("unknown batch", lambda: jobkit.BatchHandle(jobkit.get_host(), "no-such-batch").status),
		("progress here", lambda: jobkit.progress(total=10)),
		("limit 0", lambda: jobkit.Limit("shopify::{shop}", 0)),
		("rate per 0", lambda: jobkit.Rate("bank", 3, per=0)),
		(
			"key, no arg",
			lambda: jobkit.enqueue(
				"demo.jobs.resize_images", count=1, concurrency=jobkit.Limit("s::{shop}", 1)
			),
		),
	]
	for label, call in bad_calls:
		try:
			call()
		except jobkit.JobkitError as e:
			print(f"   {label:15} {type(e).__name__}: {e}")
		else:
			check(False, f"{label} was accepted")
	check(job_count(connection) == before, "no job was written by the rejected calls")


STEPS = (
	enqueue_on_frappes_queues,
	workers_run_them,
	unique_jobs,
	delayed_jobs,
	retries,
	dead_letters,
	locks,
	job_decorator,
	now_runs_here,
	lost_runs_are_reaped,
	a_lost_worker_gives_back,
	pausing_a_queue,
	batches,
	progress,
	health,
	stats,
	flow_control,
	bad_input,
)


RACE_OUTCOMES: list = []


def enqueue_sync(**options):
	return jobkit.enqueue(
		"demo.jobs.sync_customer", queue="reports", job_id="sync::CUST-7", customer="CUST-7", **options
	)


def enqueue_recompute(version: int):
	return jobkit.enqueue(
		"demo.jobs.recompute",
		queue="reports",
		job_id="recompute::CUST-7",
		on_conflict="replace",
		version=version,
	)


def enqueue_import(supplier: str, **options):
	"""A catalogue import whose first attempt runs until the demo kills it; one retry."""
	jobkit.get_host().connection.delete("demo:import-pid")
	retry = jobkit.Retry(max_attempts=2, backoff=0.5, jitter=False)
	return jobkit.enqueue("demo.jobs.import_catalogue", retry=retry, supplier=supplier, **options)


def import_pid(connection) -> int:
	"""The process id of the import's first attempt, once it runs."""
	wait_for(lambda: connection.get("demo:import-pid"))
	return int(connection.get("demo:import-pid"))


def worker_killed_alone(redis_url: str, host, check) -> None:
	"""jobkit's forking worker renews its work-horse's lease: killed alone, it takes the work-horse with
	it, and the run is retried, rather than run on by a work-horse nobody watches."""
	imported = enqueue_import("Globex", queue="reports")
	doomed = start_worker(redis_url, "reports")
	horse = import_pid(host.connection)
	doomed.kill()
	doomed.wait()
	print(f"   SIGKILL to a worker alone (pid {doomed.pid}), whose work-horse (pid {horse}) runs attempt 1")
	check(
		wait_for(lambda: not process_alive(horse)),
		"its work-horse died with it (the worker renewed its lease)",
	)
	reaped: list = []
	check(
		wait_for(lambda: reaped.extend(jobkit.reap()) or reaped) and reaped[0].outcome == "retried",
		"jobkit.reap() retried the run once its lease went unrenewed",
	)
	# A supervisor would restart the worker; its RQ registration is dropped here instead (step 17).
	for dead in Worker.all(queue=host.rq_queue("reports")):
		dead.register_death()
	wait_for(lambda: jobkit.promote_due() >= 0 and imported.status == "queued")
	run_burst_worker(redis_url, "reports")
	check(imported.status == "finished", "attempt 2 ran on another worker")
	print(f"   result: {imported.fetch().return_value()!r}")


def superseded_by_a_newer_call(redis_url: str, host, check) -> None:
	"""A killed unique run's key lapses with its lease; a newer call takes it before the reaper comes,
	and the killed run's retry is superseded: not run, and recorded with its arguments."""
	killed = enqueue_import("Initech", queue="reports", job_id="import::Initech")
	doomed = start_worker(redis_url, "reports")
	horse = import_pid(host.connection)
	os.kill(horse, signal.SIGKILL)
	doomed.kill()
	doomed.wait()
	print(
		f"   SIGKILL to a worker (pid {doomed.pid}) and its work-horse running attempt 1 of import::Initech"
	)
	accepted: list = []

	def newer_call() -> bool:
		handle = jobkit.enqueue(
			"demo.jobs.import_catalogue",
			queue="reports",
			job_id="import::Initech",
			supplier="Initech",
			hang=False,
		)
		accepted.extend([handle] if not handle.duplicate else [])
		return not handle.duplicate

	check(
		wait_for(newer_call), "once the killed run's key lapsed (its 2 s lease), a newer call took the job id"
	)
	newer = accepted[0]
	reaped: list = []
	wait_for(lambda: reaped.extend(jobkit.reap()) or reaped)
	check(
		[(r.outcome, r.holder) for r in reaped] == [("superseded", newer.rq_id)],
		"jobkit.reap() did not retry the killed run over it: the retry is superseded by the newer call",
	)
	[record] = jobkit.skipped_runs().list()
	print(f"   killed run's handle: {killed.status!r}, superseded by {killed.superseded_by}")
	print(
		f"   skipped run: reason {record.reason!r}, attempt {record.attempt} not run, kwargs {record.kwargs}"
	)
	check(killed.status == "superseded", "the killed call's handle ends 'superseded', naming the newer call")
	for dead in Worker.all(queue=host.rq_queue("reports")):
		dead.register_death()
	run_burst_worker(redis_url, "reports")
	check(newer.status == "finished", "the newer call ran, once")


def process_alive(pid: int) -> bool:
	"""Whether ``pid`` runs (a zombie nobody reaped does not)."""
	try:
		return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
	except OSError:
		return False


def race(calls: int) -> None:
	for _ in range(calls):
		RACE_OUTCOMES.append(enqueue_sync())


def worker_command(
	redis_url: str, *queues: str, burst: bool = False, worker_class: str = WORKER_CLASS
) -> list[str]:
	options = ["--url", redis_url, "--worker-class", worker_class, "--logging_level", "WARNING"]
	return [sys.executable, "-m", "rq.cli", "worker", *options, *(["--burst"] if burst else []), *queues]


def run_worker(redis_url: str, queue: str, worker_class: str = WORKER_CLASS) -> int:
	"""Run a burst worker on ``queue``; return its exit code."""
	env = {**os.environ, "PYTHONPATH": str(REPO)}
	command = worker_command(redis_url, queue, burst=True, worker_class=worker_class)
	return subprocess.run(command, env=env, cwd=REPO, timeout=WAIT_SECONDS).returncode


def run_burst_worker(redis_url: str, queue: str) -> None:
	code = run_worker(redis_url, queue)
	if code != 0:
		raise RuntimeError(f"a burst worker on {queue!r} exited {code}")


def heading(text: str) -> None:
	print(f"\n{text}")


def start_worker(redis_url: str, *queues: str) -> subprocess.Popen:
	env = {**os.environ, "PYTHONPATH": str(REPO)}
	return subprocess.Popen(worker_command(redis_url, *(queues or QUEUES)), env=env, cwd=REPO)


def stop_worker(worker: subprocess.Popen) -> int:
	worker.send_signal(signal.SIGTERM)
	try:
		return worker.wait(timeout=WAIT_SECONDS)
	except subprocess.TimeoutExpired:
		worker.kill()
		return worker.wait()


def wait_until_done(handles) -> dict[str, str]:
	def statuses():
		return {handle.id: handle.status for handle in handles}

	wait_for(lambda: all(s in ("finished", "failed") for s in statuses().values()))
	return statuses()


def wait_for(predicate) -> bool:
	"""Poll for up to WAIT_SECONDS; the caller checks (and reports) the outcome."""
	deadline = time.monotonic() + WAIT_SECONDS
	while not predicate():
		if time.monotonic() > deadline:
			return False
		time.sleep(0.05)
	return True


def job_count(connection) -> int:
	return len(connection.keys("rq:job:*"))


def finished_methods(connection, queue: str) -> set[str]:
	from rq.job import Job
	from rq.registry import FinishedJobRegistry

	job_ids = FinishedJobRegistry(queue, connection=connection).get_job_ids()
	return {job.description for job in Job.fetch_many(job_ids, connection=connection) if job}


if __name__ == "__main__":
	sys.exit(main())
