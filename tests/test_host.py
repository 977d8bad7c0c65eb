import subprocess
import sys

import pytest

import jobkit
from jobkit.engine.host import parse_queues
from tests.conftest import read_log
from tests.redis_server import free_port
from tests.workers import REPO, run_burst_worker, worker_env


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
