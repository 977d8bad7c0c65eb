"""Progress: throttled publishing to the owner's room, state kept after the end, cooperative cancel."""

import json
import os
import signal
import time

import pytest

import jobkit
import jobkit.engine.batches
from jobkit.engine import context, keys
from jobkit.engine import progress as engine_progress
from jobkit.engine.enqueue import enqueue as engine_enqueue
from tests.conftest import NAMESPACE
from tests.workers import run_burst_worker, start_worker, stop_workers, wait_for

RATE = 4
# Long enough for a test to see the final state before it goes, on a busy machine.
KEEP_BRIEFLY = 5


class EventListener:
	"""Everything published on the namespace's events channel while it listens."""

	def __init__(self, conn):
		self.messages: list[dict] = []
		self._pubsub = conn.pubsub(ignore_subscribe_messages=True)
		self._pubsub.subscribe(**{keys.events_channel(NAMESPACE): self._received})
		self._thread = self._pubsub.run_in_thread(sleep_time=0.01, daemon=True)

	def _received(self, message: dict) -> None:
		self.messages.append(json.loads(message["data"]))

	def close(self) -> None:
		self._thread.stop()
		self._thread.join(timeout=5)
		self._pubsub.close()

	def progress_of(self, rq_id: str) -> list[dict]:
		return [m for m in self.messages if m["event"] == "jobkit_progress" and m["message"]["id"] == rq_id]


@pytest.fixture
def events(conn):
	listener = EventListener(conn)
	yield listener
	listener.close()


def test_a_million_advances_publish_at_most_the_rate_and_end_with_the_final_state(
	host, conn, redis_url, events
):
	handle = engine_enqueue(
		host,
		"tests.fixtures.count_with_progress",
		user="alice@example.com",
		kwargs={"items": 1_000_000, "key": "count", "rate": RATE},
	)
	run_burst_worker(redis_url)
	[report] = [json.loads(entry) for entry in conn.lrange("count", 0, -1)]
	wait_for(lambda: len(events.progress_of(handle.rq_id)) >= report["published"], "the messages to arrive")
	messages = [m["message"] for m in events.progress_of(handle.rq_id)]
	assert len(messages) == report["published"]
	assert len(messages) <= report["seconds"] * RATE + 2
	assert messages[0]["done"] == 0
	final = messages[-1]
	assert (final["status"], final["done"], final["total"], final["percent"]) == (
		"done",
		1_000_000,
		1_000_000,
		100.0,
	)
	assert [m["done"] for m in messages] == sorted(m["done"] for m in messages)


def test_a_message_goes_to_its_owner_or_its_document_never_to_the_site(host, redis_url, events):
	owned = engine_enqueue(
		host, "tests.fixtures.fail_with_progress", user="alice@example.com", kwargs={"key": "f"}
	)
	anonymous = engine_enqueue(host, "tests.fixtures.count_with_progress", kwargs={"items": 3, "key": "c"})
	on_document = engine_enqueue(
		host,
		"tests.fixtures.count_with_progress",
		user="bob@example.com",
		kwargs={"items": 3, "key": "d", "reference_doctype": "Sales Invoice", "reference_name": "SINV-1"},
	)
	run_burst_worker(redis_url)
	wait_for(lambda: all(events.progress_of(h.rq_id) for h in (owned, anonymous, on_document)), "messages")
	for message in events.progress_of(owned.rq_id):
		assert (message["user"], message["room"]) == ("alice@example.com", "user:alice@example.com")
		assert message["message"]["owner"] == "alice@example.com"
	assert {m["room"] for m in events.progress_of(on_document.rq_id)} == {"doc:Sales Invoice/SINV-1"}
	assert {m["room"] for m in events.progress_of(anonymous.rq_id)} == {f"job:{anonymous.rq_id}"}
	final = events.progress_of(owned.rq_id)[-1]["message"]
	assert (final["status"], final["reason"], final["stage"], final["done"]) == (
		"failed",
		"ValueError: the file is empty",
		"loading",
		3,
	)


def test_a_job_run_about_a_record_reports_to_its_room_unless_it_names_another(host, redis_url, events):
	about = {"items": 2, "doctype": "ToDo", "name": "TD-1"}
	defaulted = engine_enqueue(
		host, "tests.fixtures.count_about_a_record", user="bob@example.com", kwargs={**about, "key": "a"}
	)
	named = engine_enqueue(
		host,
		"tests.fixtures.count_about_a_record",
		user="bob@example.com",
		kwargs={**about, "key": "b", "reference_doctype": "Sales Invoice", "reference_name": "SINV-2"},
	)
	run_burst_worker(redis_url)
	wait_for(lambda: all(events.progress_of(h.rq_id) for h in (defaulted, named)), "messages")
	assert {m["room"] for m in events.progress_of(defaulted.rq_id)} == {"doc:ToDo/TD-1"}
	assert {m["room"] for m in events.progress_of(named.rq_id)} == {"doc:Sales Invoice/SINV-2"}
	assert jobkit.progress_of(defaulted.rq_id)["reference_name"] == "TD-1"


def test_the_last_state_is_readable_after_the_end_and_gone_after_its_keep_time(host, conn, redis_url):
	kept = jobkit.enqueue("tests.fixtures.count_with_progress", items=5, key="k")
	assert jobkit.progress_of(kept.rq_id) is None  # nothing reported before it runs
	run_burst_worker(redis_url)
	state = jobkit.progress_of(kept.rq_id)
	assert (state["status"], state["done"], state["total"], state["title"]) == ("done", 5, 5, "Count")
	assert 0 < conn.ttl(keys.progress(NAMESPACE, kept.rq_id)) <= host.progress_keep_seconds

	brief = jobkit.enqueue("tests.fixtures.count_with_progress", items=5, key="b", keep_seconds=KEEP_BRIEFLY)
	worker = start_worker(redis_url)
	try:
		wait_for(lambda: (jobkit.progress_of(brief.rq_id) or {}).get("status") == "done", "the final state")
	finally:
		stop_workers(worker)
	wait_for(
		lambda: jobkit.progress_of(brief.rq_id) is None, "the state to expire", timeout=KEEP_BRIEFLY + 10
	)


def test_an_owners_runs_are_listed_latest_first(host, redis_url):
	first = engine_enqueue(
		host, "tests.fixtures.count_with_progress", user="carol@example.com", kwargs={"items": 1, "key": "a"}
	)
	second = engine_enqueue(
		host, "tests.fixtures.count_with_progress", user="carol@example.com", kwargs={"items": 2, "key": "b"}
	)
	engine_enqueue(
		host, "tests.fixtures.count_with_progress", user="dave@example.com", kwargs={"items": 1, "key": "c"}
	)
	run_burst_worker(redis_url)
	listed = engine_progress.for_owner(host, "carol@example.com")
	assert [state["id"] for state in listed] == [second.rq_id, first.rq_id]


def test_a_cancelled_job_sees_the_flag_and_ends_cancelled(host, conn, redis_url):
	worker = start_worker(redis_url)
	try:
		handle = jobkit.enqueue("tests.fixtures.run_until_cancelled", key="x")
		wait_for(lambda: (jobkit.progress_of(handle.rq_id) or {}).get("done"), "the job to report progress")
		jobkit.cancel_job(handle.rq_id)
		wait_for(lambda: conn.llen("x"), "the job to stop")
	finally:
		stop_workers(worker)
	assert json.loads(conn.lindex("x", 0)) == {"cancelled": True, "status": "cancelled"}
	assert jobkit.progress_of(handle.rq_id)["status"] == "cancelled"


def job_context(rq_id: str) -> context.JobContext:
	"""A job as the runner describes it, for a tracker made here rather than in a worker."""
	return context.JobContext(
		id=rq_id, rq_id=rq_id, method="tests.fixtures.count_with_progress", queue="default",
		namespace=NAMESPACE, attempt=1, user=None, enqueued_at=time.time(),
	)  # fmt: skip


def test_cancel_is_seen_at_the_first_advance_after_a_check_interval(host):
	job = job_context("rq-j1")
	tracker = engine_progress.Progress(host, job, total=10)
	tracker.advance()
	assert not tracker.cancelled
	jobkit.cancel_job("rq-j1")
	time.sleep(engine_progress.CANCEL_CHECK_SECONDS)
	tracker.advance()
	assert tracker.cancelled


def test_bad_input_names_the_problem(host):
	with pytest.raises(jobkit.NotConfigured, match="inside a job"):
		jobkit.progress(total=10)
	job = job_context("rq-j2")
	for options, message in (
		({"total": -1}, "total must be a whole number"),
		({"rate": 0}, "rate must be a positive number"),
		({"keep_seconds": 0}, "keep_seconds must be a whole number"),
		({"title": "x" * 141}, "title must be text"),
		({"reference_doctype": "ToDo"}, "together"),
	):
		with pytest.raises(jobkit.InvalidArgument, match=message):
			engine_progress.Progress(host, job, **options)
	tracker = engine_progress.Progress(host, job, total=1)
	with pytest.raises(jobkit.InvalidArgument, match="done must be a whole number"):
		tracker.set(-1)
	with pytest.raises(jobkit.InvalidArgument, match="status must be one of"):
		tracker.close("finished")
	for bad in ("", "  ", None, 42, "x" * (engine_progress.MAX_RUN_ID_LENGTH + 1)):
		with pytest.raises(jobkit.InvalidArgument, match="RQ id"):
			jobkit.progress_of(bad)
		with pytest.raises(jobkit.InvalidArgument, match="RQ id"):
			jobkit.cancel_job(bad)
	assert jobkit.progress_of("x" * engine_progress.MAX_RUN_ID_LENGTH) is None  # the bound is allowed


def test_a_tracker_left_open_gets_its_final_state_when_the_job_ends(host, redis_url):
	handle = jobkit.enqueue("tests.fixtures.progress_left_open", items=7)
	run_burst_worker(redis_url)
	state = jobkit.progress_of(handle.rq_id)
	assert (state["status"], state["done"], state["percent"]) == ("done", 7, 100.0)


def test_a_batch_reports_its_aggregate_progress_to_its_user(host, conn, redis_url, events):
	handle = jobkit.engine.batches.create(
		host,
		"tests.fixtures.process_chunk",
		items=list(range(300)),
		chunk_size=50,
		user="erin@example.com",
		kwargs={"key": "agg"},
	)
	run_burst_worker(redis_url)
	state = jobkit.progress_of(f"batch:{handle.id}")
	assert (state["status"], state["done"], state["total"], state["stage"]) == ("done", 300, 300, "Completed")
	assert state["batch"] == handle.id
	assert f"batch:{handle.id}" in [s["id"] for s in engine_progress.for_owner(host, "erin@example.com")]
	wait_for(lambda: events.progress_of(f"batch:{handle.id}"), "the batch's progress messages")
	assert {m["room"] for m in events.progress_of(f"batch:{handle.id}")} == {"user:erin@example.com"}


def test_a_run_whose_process_died_ends_failed_not_running(short_lease, conn, redis_url):
	worker = start_worker(redis_url)
	try:
		handle = jobkit.enqueue("tests.fixtures.report_then_hang", key="pid")
		pid = int(wait_for(lambda: conn.get("pid"), "the job to start"))
		assert jobkit.progress_of(handle.rq_id)["status"] == "running"
		os.kill(pid, signal.SIGKILL)
		wait_for(lambda: [r for r in jobkit.reap() if r.rq_id == handle.rq_id], "the reaper", timeout=30)
	finally:
		stop_workers(worker)
	state = jobkit.progress_of(handle.rq_id)
	assert (state["status"], state["done"]) == ("failed", 4)
	assert state["reason"].startswith("WorkerLost: the process running it died; recorded as failed")


def test_a_job_that_did_all_its_items_is_done_even_if_a_cancel_came_late(host):
	with engine_progress.Progress(host, job_context("rq-j3"), total=2) as tracker:
		tracker.advance(2)
		jobkit.cancel_job("rq-j3")
		time.sleep(engine_progress.CANCEL_CHECK_SECONDS)
		assert tracker.cancelled
	assert jobkit.progress_of("rq-j3")["status"] == "done"
	with engine_progress.Progress(host, job_context("rq-j4"), total=5) as stopped:
		stopped.advance(1)
		jobkit.cancel_job("rq-j4")
		time.sleep(engine_progress.CANCEL_CHECK_SECONDS)
		assert stopped.cancelled
	assert jobkit.progress_of("rq-j4")["status"] == "cancelled"
