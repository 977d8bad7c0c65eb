import subprocess
import sys

import pytest

import jobkit
from jobkit.engine.rq_host import parse_queues
from tests.conftest import read_log
from tests.redis_server import free_port
from tests.workers import REPO, run_burst_worker, wait_for, worker_env


def test_no_host_is_a_clear_error(no_host):
	with pytest.raises(jobkit.NotConfigured, match=r"jobkit\.configure\(redis_url="):
		jobkit.enqueue("tests.fixtures.add", a=1, b=2)


def test_configure_selects_the_plain_rq_host(no_host, redis_url):
	host = jobkit.configure(redis_url=redis_url, namespace="shop")
	assert isinstance(host, jobkit.RQHost)
	assert jobkit.get_host() is host
	assert host.namespace == "shop"


def test_configure_with_unreachable_redis_fails_at_once(no_host):
	with pytest.raises(jobkit.NotConfigured, match="cannot reach Redis"):
		jobkit.configure(redis_url=f"redis://127.0.0.1:{free_port()}/0")


@pytest.mark.parametrize("namespace", ["", "a:b", "with space", "-leading"])
def test_configure_rejects_a_bad_namespace(no_host, redis_url, namespace):
	with pytest.raises(jobkit.InvalidArgument, match="namespace"):
		jobkit.configure(redis_url=redis_url, namespace=namespace)


def test_configure_rejects_a_non_url(no_host):
	with pytest.raises(jobkit.InvalidArgument, match="not a Redis URL"):
		jobkit.configure(redis_url="localhost:6379")


def test_environment_variables_select_the_host_in_a_fresh_process(redis_url, conn):
	code = "import jobkit; print(jobkit.enqueue('tests.fixtures.record', key='env', value='ok').rq_id)"
	env = worker_env({"JOBKIT_REDIS_URL": redis_url, "JOBKIT_NAMESPACE": "from-env"})
	result = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True)
	assert result.returncode == 0, result.stderr
	assert result.stdout.strip().startswith("from-env.")
	run_burst_worker(redis_url)
	assert read_log(conn, "env") == ["ok"]


def test_jobkit_queues_variable_is_parsed():
	assert parse_queues("default:300, long:3600") == {"default": 300, "long": 3600}
	with pytest.raises(jobkit.NotConfigured, match="JOBKIT_QUEUES"):
		parse_queues("default=300")


@pytest.fixture
def sentinel(redis_server, tmp_path):
	"""A real redis-sentinel watching the suite's Redis as master 'jobs' (its URL)."""
	port = free_port()
	config = tmp_path / "sentinel.conf"
	config.write_text(
		f"port {port}\nbind 127.0.0.1\ndir {tmp_path}\n"
		f"sentinel monitor jobs 127.0.0.1 {redis_server.port} 1\n"
	)
	process = subprocess.Popen(
		["redis-server", str(config), "--sentinel"], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
	)
	try:
		import redis

		client = redis.Redis(port=port)
		wait_for(lambda: _answers(client), "redis-sentinel to start")
		yield f"redis+sentinel://127.0.0.1:{port}/jobs/0"
	finally:
		process.terminate()
		process.wait(timeout=10)


def _answers(client) -> bool:
	try:
		return bool(client.sentinel_get_master_addr_by_name("jobs"))
	except Exception:
		return False


def test_a_sentinel_url_selects_the_master_it_names(no_host, redis_url, conn, sentinel):
	jobkit.configure(redis_url=sentinel, namespace="via-sentinel")
	handle = jobkit.enqueue("tests.fixtures.record", key="sentinel", value="ran")
	assert handle.rq_id.encode() in conn.lrange("rq:queue:default", 0, -1)  # written on the master
	delayed = jobkit.enqueue("tests.fixtures.record", key="sentinel", value="later", delay=0.1)
	wait_for(lambda: jobkit.promote_due() == 1, "the delayed job to be promoted through the Sentinel")
	run_burst_worker(redis_url)
	assert read_log(conn, "sentinel") == ["ran", "later"]
	assert delayed.status == "finished"


@pytest.mark.parametrize(
	("url", "message"),
	[
		("redis+sentinel:///jobs", "not a Sentinel URL"),
		("redis+sentinel://127.0.0.1/jobs", "is not host:port"),
		("redis+sentinel://127.0.0.1:26379/", "not a Sentinel URL"),
		("redis+sentinel://127.0.0.1:26379/jobs/x", "not a Sentinel URL"),
	],
)
def test_a_bad_sentinel_url_names_the_problem(no_host, url, message):
	with pytest.raises(jobkit.InvalidArgument, match=message):
		jobkit.configure(redis_url=url)
