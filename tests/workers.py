"""Real RQ worker processes for the engine tests: ``rq worker`` from the installed RQ."""

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

WORKER_CLASSES = {
	"fork": "rq.worker.Worker",
	"simple": "rq.worker.SimpleWorker",
}

BURST_TIMEOUT_SECONDS = 120
WAIT_SECONDS = 30


def worker_command(redis_url: str, queues, worker_class: str, burst: bool) -> list[str]:
	command = [
		sys.executable, "-m", "rq.cli", "worker",
		"--url", redis_url,
		"--worker-class", WORKER_CLASSES[worker_class],
		"--path", str(REPO),
		"--logging_level", "WARNING",
	]  # fmt: skip
	if burst:
		command.append("--burst")
	return [*command, *queues]


def worker_env(extra: dict | None = None) -> dict:
	env = {k: v for k, v in os.environ.items() if not k.startswith("JOBKIT_")}
	env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
	env.update(extra or {})
	return env


def run_burst_worker(
	redis_url: str, queues=("default",), worker_class: str = "fork", env: dict | None = None
) -> subprocess.CompletedProcess:
	"""Run a worker until its queues are empty; fail the test if it does not exit cleanly."""
	result = subprocess.run(
		worker_command(redis_url, queues, worker_class, burst=True),
		env=worker_env(env),
		cwd=REPO,
		capture_output=True,
		text=True,
		timeout=BURST_TIMEOUT_SECONDS,
	)
	assert result.returncode == 0, f"burst worker exited {result.returncode}:\n{result.stderr}"
	return result


def start_worker(
	redis_url: str, queues=("default",), worker_class: str = "fork", env: dict | None = None
) -> subprocess.Popen:
	return subprocess.Popen(
		worker_command(redis_url, queues, worker_class, burst=False),
		env=worker_env(env),
		cwd=REPO,
		stdout=subprocess.PIPE,
		stderr=subprocess.STDOUT,
		text=True,
	)


def request_stop(process: subprocess.Popen) -> None:
	"""Ask for a warm shutdown (SIGTERM: finish the current job, then exit), as supervisor does.

	Sent once: a second SIGTERM is RQ's cold shutdown, which kills the running job.
	"""
	process.send_signal(signal.SIGTERM)


def wait_exit(process: subprocess.Popen, timeout: float = WAIT_SECONDS) -> tuple[int, str]:
	try:
		output, _ = process.communicate(timeout=timeout)
	except subprocess.TimeoutExpired:
		process.kill()
		output, _ = process.communicate()
		raise AssertionError(f"worker did not stop within {timeout}s of SIGTERM:\n{output}") from None
	return process.returncode, output


def wait_for(predicate: Callable[[], object], what: str, timeout: float = WAIT_SECONDS):
	"""Poll until ``predicate`` is truthy; a bounded wait, not a timing assertion."""
	deadline = time.monotonic() + timeout
	while True:
		value = predicate()
		if value:
			return value
		if time.monotonic() > deadline:
			raise AssertionError(f"timed out after {timeout}s waiting for {what}")
		time.sleep(0.02)
