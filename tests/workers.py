"""Real RQ worker processes for the engine tests: ``rq worker`` from the installed RQ."""

import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

WORKER_CLASSES = {
	"fork": "rq.worker.Worker",
	"simple": "rq.worker.SimpleWorker",
	# A forking worker whose parent heartbeats every second while a job runs (RQ's default: 30 s).
	"prompt": "tests.workers.PromptHeartbeatWorker",
	"jobkit": "jobkit.engine.worker.Worker",
	"jobkit simple": "jobkit.engine.worker.SimpleWorker",
	"lost before its work-horse": "tests.workers.LostBeforeItsWorkHorse",
	"lost after taking": "tests.workers.LostAfterTaking",
	"slow to start": "tests.workers.SlowToStart",
	"dies before a checkpoint is counted": "tests.workers.DiesBeforeACheckpointIsCounted",
}

# While this key exists, a "slow to start" worker waits between taking a job and starting it.
HOLD_BACK_KEY = "tests:hold-back"

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
	redis_url: str,
	queues=("default",),
	worker_class: str = "fork",
	env: dict | None = None,
	start_new_session: bool = False,
) -> subprocess.Popen:
	# Output goes to a file, not a pipe: a long-running worker that logs more than a pipe holds
	# would block on its next write.
	log = tempfile.TemporaryFile(mode="w+")
	process = subprocess.Popen(
		worker_command(redis_url, queues, worker_class, burst=False),
		env=worker_env(env),
		cwd=REPO,
		stdout=log,
		stderr=subprocess.STDOUT,
		text=True,
		start_new_session=start_new_session,
	)
	process.log = log
	process.redis_url = redis_url
	process.forks = worker_class != "simple"
	return process


def start_promoter(redis_url: str, interval: float = 0.1, namespace: str = "test-site") -> subprocess.Popen:
	"""jobkit's long-running promoter (python -m jobkit.engine.promoter), its errors kept; it also
	reaps the lost runs of ``namespace`` (the tests' namespace)."""
	command = [sys.executable, "-m", "jobkit.engine.promoter", "--url", redis_url]
	command += ["--interval", str(interval), "--namespace", namespace]
	return subprocess.Popen(
		command,
		cwd=REPO,
		env=worker_env(),
		stdout=subprocess.DEVNULL,
		stderr=subprocess.PIPE,
		text=True,
	)


def worker_output(process: subprocess.Popen) -> str:
	process.log.seek(0)
	return process.log.read()


def stop_workers(*processes: subprocess.Popen) -> None:
	"""Warm-stop long-running workers; fail if one does not exit cleanly.

	An idle RQ worker (both lines) answers SIGTERM by raising StopRequested, an Exception, from
	its signal handler; landing inside one of RQ's own ``except Exception`` blocks, it is lost and
	the worker sleeps in BLPOP for its dequeue timeout (seen once in about ten full runs). On rq
	2.x the request can also be lost while the worker still records itself busy with a job that has
	ended (seen once): its work-horse is gone. A worker still up after the wait with no job to
	finish (idle, or busy with no work-horse) is asked once more. One whose work-horse still runs
	fails the test: that is a job that did not end.
	"""
	for process in processes:
		if process.poll() is None:
			request_stop(process)
	for process in processes:
		try:
			process.wait(timeout=WAIT_SECONDS)
		except subprocess.TimeoutExpired:
			state = worker_state(process)
			horses = child_pids(process.pid) if getattr(process, "forks", False) else None
			if state == "idle" or (state == "busy" and horses == []):
				request_stop(process)
			else:
				process.kill()
				process.wait()
				raise AssertionError(
					f"worker ({state}, work-horses {horses}) did not stop within {WAIT_SECONDS}s of "
					f"SIGTERM:\n{worker_output(process)}"
				) from None
		code, output = wait_exit(process)
		assert code == 0, f"worker exited {code}:\n{output}"


def worker_state(process: subprocess.Popen) -> str | None:
	"""The state RQ records for the worker with this process id ("idle", "busy", ...)."""
	import redis
	from rq import Worker

	with redis.Redis.from_url(process.redis_url) as connection:
		for worker in Worker.all(connection=connection):
			if worker.pid == process.pid:
				return worker.get_state()
	return None


def child_pids(pid: int) -> list[int]:
	"""The processes whose parent is ``pid`` (a forking worker's work-horse)."""
	children = []
	for stat in Path("/proc").glob("[0-9]*/stat"):
		try:
			_, ppid = _state_and_parent(stat)
		except (OSError, ValueError):
			continue  # gone meanwhile
		if ppid == pid:
			children.append(int(stat.parent.name))
	return children


def process_runs(pid: int) -> bool:
	"""Whether ``pid`` is a live process (not gone, nor a zombie no one reaped)."""
	try:
		state, _ = _state_and_parent(Path(f"/proc/{pid}/stat"))
	except (OSError, ValueError):
		return False
	return state not in ("Z", "X")


def _state_and_parent(stat: Path) -> tuple[str, int]:
	"""A process's state letter and parent pid, from its /proc/<pid>/stat (after the name's ")")."""
	state, ppid = stat.read_text().rsplit(")", 1)[1].split()[:2]
	return state, int(ppid)


def request_stop(process: subprocess.Popen) -> None:
	"""Ask for a warm shutdown (SIGTERM: finish the current job, then exit), as supervisor does.

	Sent once: a second SIGTERM is RQ's cold shutdown, which kills the running job.
	"""
	process.send_signal(signal.SIGTERM)


def wait_exit(process: subprocess.Popen, timeout: float = WAIT_SECONDS) -> tuple[int, str]:
	try:
		process.wait(timeout=timeout)
	except subprocess.TimeoutExpired:
		process.kill()
		process.wait()
		raise AssertionError(
			f"worker did not stop within {timeout}s of SIGTERM:\n{worker_output(process)}"
		) from None
	return process.returncode, worker_output(process)


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


try:
	from rq.worker import Worker as _Worker

	from jobkit.engine.worker import Worker as _JobkitWorker

	class PromptHeartbeatWorker(_Worker):
		def __init__(self, *args, **kwargs):
			kwargs["job_monitoring_interval"] = 1
			super().__init__(*args, **kwargs)

	class LostBeforeItsWorkHorse(_JobkitWorker):
		"""jobkit's worker, lost (exit 9, as if SIGKILLed) after taking a job, before forking."""

		def fork_work_horse(self, job, queue):
			os._exit(9)

	class LostAfterTaking(_JobkitWorker):
		"""jobkit's worker, lost (exit 9) right after taking a job, before it starts it."""

		def execute_job(self, job, queue):
			os._exit(9)

	class DiesBeforeACheckpointIsCounted(_JobkitWorker):
		"""jobkit's worker whose work-horse dies (exit 9) once, at the end of the first chunk segment
		that checkpointed, just before its end is counted: where an earlier jobkit wrote the
		segment's continuation already."""

		def __init__(self, *args, **kwargs):
			super().__init__(*args, **kwargs)
			from jobkit.engine.batches import running

			end_segment = running.end_segment

			def dying_end_segment(host, *args, complete, **kwargs):
				if not complete and host.connection.set("tests:died-once", 1, nx=True):
					os._exit(9)
				return end_segment(host, *args, complete=complete, **kwargs)

			running.end_segment = dying_end_segment

	class SlowToStart(_JobkitWorker):
		"""jobkit's worker, waiting between taking a job and starting it while HOLD_BACK_KEY exists."""

		def execute_job(self, job, queue):
			while self.connection.exists(HOLD_BACK_KEY):
				time.sleep(0.02)
			return super().execute_job(job, queue)
except ImportError:  # imported by the test session only where rq is installed
	pass
