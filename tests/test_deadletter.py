"""Dead letters with real workers: what a final failure leaves, and retrying or discarding it."""

import threading

import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import jobkit
from jobkit import Retry
from jobkit.engine import dead_letter, keys
from tests.conftest import NAMESPACE, read_log
from tests.workers import start_promoter, start_worker, stop_workers, wait_for

FAST = Retry(max_attempts=3, backoff=0.2, max_backoff=1, jitter=False)


def failed_for_good(handle) -> jobkit.DeadLetter:
	wait_for(lambda: handle.status == "failed", "the job's last attempt to fail")
	wait_for(lambda: jobkit.dead_letters().count() == 1, "its dead letter")
	[letter] = jobkit.dead_letters().list()
	return letter


def test_the_last_failure_leaves_one_letter_with_every_attempt(host, conn, running):
	handle = jobkit.enqueue(
		"tests.fixtures.fail_until_fixed",
		retry=FAST,
		key="sync",
		api_key="sk-live-123",
		options={"Password": "hunter2", "region": "eu"},
	)
	letter = failed_for_good(handle)

	assert letter.method == "tests.fixtures.fail_until_fixed"
	assert (letter.job_id, letter.queue, letter.attempts) == (handle.id, "default", 3)
	assert [failure["attempt"] for failure in letter.failures] == [1, 2, 3]
	assert {failure["error"] for failure in letter.failures} == {"ConnectionError: upstream refused sync"}
	assert letter.first_failed_at < letter.last_failed_at
	assert letter.id == handle.fetch().id  # the last attempt's RQ job
	assert "ConnectionError: upstream refused sync" in letter.traceback
	assert letter.kwargs == {
		"key": "sync",
		"api_key": dead_letter.REDACTED,
		"options": {"Password": dead_letter.REDACTED, "region": "eu"},
	}
	# Redacted for people only: the stored job keeps what the job needs to run again.
	assert letter.job["kwargs"]["api_key"] == "sk-live-123"
	assert letter.job["attempt"] == 1 and "errors" not in letter.job


def test_a_job_without_a_retry_policy_also_leaves_a_letter(host, conn, running):
	letter = failed_for_good(jobkit.enqueue("tests.fixtures.fail", message="bad row 7"))
	assert letter.attempts == 1
	assert letter.error == "ValueError: bad row 7"


def test_a_retried_letter_runs_the_stored_job_again_and_goes(host, conn, running):
	handle = jobkit.enqueue("tests.fixtures.fail_until_fixed", retry=FAST, key="sync", token="t-1")
	letter = failed_for_good(handle)
	conn.set("sync:fixed", 1)  # the fix is deployed

	again = jobkit.dead_letters().retry(letter.id)
	wait_for(lambda: again.status == "finished", "the retried job to succeed")

	last_run = read_log(conn, "sync:runs")[-1]
	assert last_run["attempt"] == 1  # a new first attempt, with the whole policy ahead of it
	assert last_run["settings"] == {"token": "t-1"}  # the real value, not the redacted one
	assert again.rq_id != letter.id
	assert jobkit.dead_letters().count() == 0
	with pytest.raises(jobkit.UnknownDeadLetter, match="retried or discarded already"):
		jobkit.dead_letters().retry(letter.id)


def test_two_callers_retrying_one_letter_enqueue_it_once(host, conn, running):
	letter = failed_for_good(jobkit.enqueue("tests.fixtures.fail", message="once"))
	outcomes = []

	def retry():
		try:
			outcomes.append(jobkit.dead_letters().retry(letter.id).rq_id)
		except jobkit.UnknownDeadLetter:
			outcomes.append("gone")

	threads = [threading.Thread(target=retry) for _ in range(8)]
	for thread in threads:
		thread.start()
	for thread in threads:
		thread.join()
	assert len(outcomes) == 8
	assert outcomes.count("gone") == 7  # one caller took the letter and enqueued it; the rest found none


def test_a_unique_job_keeps_its_id_and_is_not_retried_over_a_live_copy(host, conn, running):
	handle = jobkit.enqueue("tests.fixtures.fail_until_fixed", job_id="sync::acme", retry=FAST, key="sync")
	letter = failed_for_good(handle)
	assert not conn.exists(keys.unique(NAMESPACE, "sync::acme"))  # released at the final failure

	copy = jobkit.enqueue("tests.fixtures.wait_for_key", job_id="sync::acme", key="go", record_to="copy")
	wait_for(lambda: read_log(conn, "copy") == ["started"], "the live copy to start")
	with pytest.raises(jobkit.DuplicateJob, match="sync::acme"):
		jobkit.dead_letters().retry(letter.id)
	assert jobkit.dead_letters().ids() == [letter.id]  # refused: the letter stays

	conn.rpush("go", 1)
	wait_for(lambda: copy.status == "finished", "the live copy to finish")
	conn.set("sync:fixed", 1)
	again = jobkit.dead_letters().retry(letter.id)
	assert again.id == "sync::acme"
	wait_for(lambda: again.status == "finished", "the retried job to succeed")


def test_a_discarded_letter_is_gone(host, conn, running):
	letter = failed_for_good(jobkit.enqueue("tests.fixtures.fail", message="not worth it"))
	jobkit.dead_letters().discard(letter.id)
	assert jobkit.dead_letters().count() == 0
	with pytest.raises(jobkit.UnknownDeadLetter, match=letter.id):
		jobkit.dead_letters().get(letter.id)
	with pytest.raises(jobkit.UnknownDeadLetter):
		jobkit.dead_letters().discard(letter.id)


def test_letters_expire_after_the_ttl_the_worker_is_given(host, conn, redis_url):
	worker = start_worker(
		redis_url,
		env={"JOBKIT_REDIS_URL": redis_url, "JOBKIT_NAMESPACE": NAMESPACE, "JOBKIT_DEAD_LETTER_TTL": "3600"},
	)
	try:
		letter = failed_for_good(jobkit.enqueue("tests.fixtures.fail", message="old news"))
	finally:
		stop_workers(worker)
	assert 3500 < conn.ttl(keys.dead_letter(NAMESPACE, letter.id)) <= 3600


@pytest.mark.parametrize(
	"call, message",
	[
		(lambda store: store.get(42), "non-empty string"),
		(lambda store: store.retry(""), "non-empty string"),
		(lambda store: store.ids(limit=0), "limit must be a whole number of at least 1"),
	],
)
def test_bad_input_names_the_problem(host, call, message):
	with pytest.raises(jobkit.InvalidArgument, match=message):
		call(jobkit.dead_letters())


def test_a_bad_dead_letter_ttl_is_refused(redis_url):
	with pytest.raises(jobkit.InvalidArgument, match="dead_letter_ttl must be a whole number of at least 1"):
		jobkit.RQHost(redis.Redis.from_url(redis_url), dead_letter_ttl=0)


secret_names = st.sampled_from(
	["password", "API_KEY", "x-api-key", "Authorization", "client_secret", "token"]
)
plain_names = st.sampled_from(["name", "region", "count", "items"])
values = st.recursive(
	st.one_of(st.integers(), st.text(max_size=5)),
	lambda inner: (
		st.lists(inner, max_size=3) | st.dictionaries(st.one_of(secret_names, plain_names), inner, max_size=3)
	),
	max_leaves=10,
)


def shown_secrets(value) -> list:
	"""Values under secret-looking keys that are not redacted, anywhere in ``value``."""
	if isinstance(value, dict):
		shown = [v for k, v in value.items() if dead_letter.looks_secret(k) and v != dead_letter.REDACTED]
		return shown + [secret for item in value.values() for secret in shown_secrets(item)]
	if isinstance(value, list):
		return [secret for item in value for secret in shown_secrets(item)]
	return []


# Data generation speed depends on the machine's load (workers of other tests), not on jobkit.
@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.one_of(secret_names, plain_names), values, max_size=4))
def test_no_secret_looking_key_keeps_its_value(kwargs):
	redacted = dead_letter.redact(kwargs)
	assert shown_secrets(redacted) == []
	assert set(redacted) == set(kwargs)  # every key still shown, only values hidden


def test_plain_values_are_shown_as_they_are():
	kwargs = {"customer": "ACME", "rows": [1, 2], "filters": {"region": "eu"}}
	assert dead_letter.redact(kwargs) == kwargs
