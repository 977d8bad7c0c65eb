import json
import os

import pytest
import redis as redis_py

import jobkit
from jobkit.engine import context
from tests.redis_server import start_redis

NAMESPACE = "test-site"


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory):
	server = start_redis(tmp_path_factory.mktemp("redis"))
	yield server
	server.stop()


@pytest.fixture
def redis_url(redis_server):
	"""The session's Redis, emptied before and after each test."""
	client = redis_server.client()
	client.flushall()
	yield redis_server.url
	client.flushall()
	client.close()


@pytest.fixture
def conn(redis_url) -> redis_py.Redis:
	client = redis_py.Redis.from_url(redis_url)
	yield client
	client.close()


@pytest.fixture
def host(redis_url, monkeypatch):
	"""The plain-RQ host selected the way a user would: one configure() call."""
	clear_jobkit_environment(monkeypatch)
	yield jobkit.configure(redis_url=redis_url, namespace=NAMESPACE)
	context.reset()


# A lease this short lets the reaper find a run whose process died within a second or two.
SHORT_LEASE = 1.0


@pytest.fixture
def short_lease(redis_url, monkeypatch):
	"""The plain-RQ host with a lease of SHORT_LEASE seconds (its jobs carry it to the workers)."""
	clear_jobkit_environment(monkeypatch)
	yield jobkit.configure(redis_url=redis_url, namespace=NAMESPACE, lease_seconds=SHORT_LEASE)
	context.reset()


@pytest.fixture
def no_host(monkeypatch):
	clear_jobkit_environment(monkeypatch)
	yield
	context.reset()


@pytest.fixture
def running(redis_url):
	"""A long-running worker and a promoter (0.1 s passes), as on a production host."""
	from tests.workers import start_promoter, start_worker, stop_workers

	worker = start_worker(redis_url)
	promoter = start_promoter(redis_url)
	yield
	promoter.terminate()
	promoter.communicate(timeout=30)
	stop_workers(worker)


def clear_jobkit_environment(monkeypatch) -> None:
	"""No host configured, from a call or from ``JOBKIT_*`` variables."""
	for name in [name for name in os.environ if name.startswith("JOBKIT_")]:
		monkeypatch.delenv(name)
	context.reset()


def read_log(connection: redis_py.Redis, key: str) -> list:
	return [json.loads(item) for item in connection.lrange(key, 0, -1)]


def pytest_sessionfinish(session, exitstatus):
	# Every engine test must run on both RQ lines: a skip there would hide a missing piece of the
	# test environment (scripts/dev sets JOBKIT_NO_SKIPS).
	reporter = session.config.pluginmanager.get_plugin("terminalreporter")
	skipped = len(reporter.stats.get("skipped", [])) if reporter else 0
	if skipped and os.environ.get("JOBKIT_NO_SKIPS") and exitstatus == 0:
		reporter.write_line(f"{skipped} engine test(s) skipped: failing the run (JOBKIT_NO_SKIPS)", red=True)
		session.exitstatus = 1
