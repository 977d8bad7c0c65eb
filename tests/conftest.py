import json

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
	for name in ("JOBKIT_REDIS_URL", "JOBKIT_NAMESPACE", "JOBKIT_QUEUES", "JOBKIT_MAX_PAYLOAD_BYTES"):
		monkeypatch.delenv(name, raising=False)
	context.reset()
	yield jobkit.configure(redis_url=redis_url, namespace=NAMESPACE)
	context.reset()


@pytest.fixture
def no_host(monkeypatch):
	for name in ("JOBKIT_REDIS_URL", "JOBKIT_NAMESPACE", "JOBKIT_QUEUES", "JOBKIT_MAX_PAYLOAD_BYTES"):
		monkeypatch.delenv(name, raising=False)
	context.reset()
	yield
	context.reset()


def read_log(connection: redis_py.Redis, key: str) -> list:
	return [json.loads(item) for item in connection.lrange(key, 0, -1)]
