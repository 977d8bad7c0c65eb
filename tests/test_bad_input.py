"""Each kind of bad input gets a clear error, and nothing reaches Redis."""

import threading

import pytest
from rq import Queue

import jobkit
from jobkit.engine import defaults


@pytest.fixture
def nothing_enqueued(host, conn):
	yield
	assert conn.keys("rq:job:*") == []
	for queue in ("default", "short", "long"):
		assert Queue(queue, connection=conn).count == 0


def test_unknown_queue(nothing_enqueued):
	with pytest.raises(jobkit.UnknownQueue, match=r"unknown queue 'longest'.*'short', 'default', 'long'"):
		jobkit.enqueue("tests.fixtures.add", queue="longest", a=1, b=1)


@pytest.mark.parametrize("timeout", [0, -5, -0.5])
def test_timeout_not_positive(nothing_enqueued, timeout):
	with pytest.raises(jobkit.InvalidTimeout, match="more than 0 seconds"):
		jobkit.enqueue("tests.fixtures.add", timeout=timeout, a=1, b=1)


@pytest.mark.parametrize("timeout", ["300", True, float("nan")])
def test_timeout_not_a_number(nothing_enqueued, timeout):
	with pytest.raises(jobkit.InvalidTimeout, match="number of seconds"):
		jobkit.enqueue("tests.fixtures.add", timeout=timeout, a=1, b=1)


@pytest.mark.parametrize(
	("method", "message"),
	[
		("no_such_app.tasks.run", "no module 'no_such_app' is installed"),
		("tests.fixtures.no_such_function", "has no attribute 'no_such_function'"),
		("tests.fixtures.NOT_CALLABLE", "names a int, which is not callable"),
		("tests fixtures add", "is not a dotted path"),
		("add", "is not a dotted path"),
		(42, "not int"),
		(lambda: None, "lambda"),
	],
)
def test_method_that_is_not_an_importable_callable(nothing_enqueued, method, message):
	with pytest.raises(jobkit.InvalidMethod, match=message):
		jobkit.enqueue(method, a=1, b=1)


def test_method_defined_inside_a_function(nothing_enqueued):
	def local_job():
		pass

	with pytest.raises(jobkit.InvalidMethod, match="defined inside a function"):
		jobkit.enqueue(local_job)


def test_bound_method_of_an_instance(nothing_enqueued):
	from tests.fixtures import Tasks

	with pytest.raises(jobkit.InvalidMethod, match="bound to an instance"):
		jobkit.enqueue(Tasks().bound)


def test_callback_that_is_not_importable(nothing_enqueued):
	with pytest.raises(jobkit.InvalidMethod, match=r"tests\.fixtures\.missing_callback"):
		jobkit.enqueue("tests.fixtures.add", on_success="tests.fixtures.missing_callback", a=1, b=1)


def test_kwargs_that_cannot_be_serialised(nothing_enqueued):
	with pytest.raises(jobkit.UnserializableArguments, match=r"keyword argument 'guard' \(lock\)"):
		jobkit.enqueue("tests.fixtures.record", key="k", guard=threading.Lock())


def test_kwargs_larger_than_the_default_limit(nothing_enqueued):
	assert defaults.DEFAULT_MAX_PAYLOAD_BYTES == 1024 * 1024
	with pytest.raises(jobkit.PayloadTooLarge, match="above the limit of 1,048,576 bytes"):
		jobkit.enqueue("tests.fixtures.record", key="k", value="x" * (1024 * 1024 + 1))


def test_kwargs_larger_than_a_configured_limit(no_host, redis_url, conn):
	jobkit.configure(redis_url=redis_url, max_payload_bytes=2000)
	jobkit.enqueue("tests.fixtures.record", key="k", value="x" * 1000)
	with pytest.raises(jobkit.PayloadTooLarge, match="above the limit of 2,000 bytes"):
		jobkit.enqueue("tests.fixtures.record", key="k", value="x" * 3000)
	assert Queue("default", connection=conn).count == 1


@pytest.mark.parametrize("argument", ["deduplicate", "event"])
def test_frappe_only_arguments_are_not_passed_on_silently(nothing_enqueued, argument):
	with pytest.raises(jobkit.InvalidArgument, match=f"does not take '{argument}'"):
		jobkit.enqueue("tests.fixtures.add", a=1, b=1, **{argument: True})


@pytest.mark.parametrize("value", ["no", 0, None])
def test_is_async_is_true_or_false(nothing_enqueued, value):
	with pytest.raises(jobkit.InvalidArgument, match="is_async must be True or False"):
		jobkit.enqueue("tests.fixtures.add", a=1, b=1, is_async=value)


def test_is_async_false_with_a_delay(nothing_enqueued):
	with pytest.raises(jobkit.InvalidArgument, match="is_async=False"):
		jobkit.enqueue("tests.fixtures.add", a=1, b=1, is_async=False, delay=10)


@pytest.mark.parametrize("job_id", ["", "   ", 12, "x" * 201])
def test_bad_job_id(nothing_enqueued, job_id):
	with pytest.raises(jobkit.InvalidArgument, match="job_id"):
		jobkit.enqueue("tests.fixtures.add", job_id=job_id, a=1, b=1)
