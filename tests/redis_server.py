"""A real, throw-away redis-server on a free loopback port, owned by the test session."""

import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import redis

START_ATTEMPTS = 3
START_WAIT_SECONDS = 15


@dataclass
class RedisServer:
	port: int
	process: subprocess.Popen
	directory: Path
	args: tuple = ()

	@property
	def url(self) -> str:
		return f"redis://127.0.0.1:{self.port}/0"

	def client(self) -> redis.Redis:
		return redis.Redis(host="127.0.0.1", port=self.port, db=0)

	def restart(self) -> "RedisServer":
		"""Stop the server (SIGTERM, as an init system does) and start it again on its port."""
		self.stop()
		return start_redis(self.directory, *self.args, port=self.port)

	def stop(self) -> None:
		if self.process.poll() is None:
			self.process.terminate()
			try:
				self.process.wait(timeout=10)
			except subprocess.TimeoutExpired:
				self.process.kill()
				self.process.wait()


def free_port() -> int:
	with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
		sock.bind(("127.0.0.1", 0))
		return sock.getsockname()[1]


def start_redis(directory: Path, *extra_args: str, port: int | None = None) -> RedisServer:
	"""Start redis-server in ``directory``; on ``port`` if given (a restart), else a free one."""
	executable = shutil.which("redis-server")
	if executable is None:
		raise RuntimeError(
			"redis-server is not installed: the engine tests need a real Redis server "
			"(Debian: apt-get install -y redis-server; `bash scripts/dev test` installs it)"
		)
	last_error = ""
	# The port is free when chosen but another process may take it before redis binds it.
	fixed_port = port
	for _ in range(START_ATTEMPTS):
		port = fixed_port or free_port()
		log = directory / f"redis-{port}.log"
		process = subprocess.Popen(
			[
				executable,
				"--port", str(port),
				"--bind", "127.0.0.1",
				"--save", "",
				"--appendonly", "no",
				"--dir", str(directory),
				"--logfile", str(log),
				*extra_args,
			],
			stdout=subprocess.DEVNULL,
			stderr=subprocess.STDOUT,
		)  # fmt: skip
		server = RedisServer(port, process, directory, extra_args)
		deadline = time.monotonic() + START_WAIT_SECONDS
		while time.monotonic() < deadline and process.poll() is None:
			try:
				if server.client().ping():
					return server
			except redis.ConnectionError:
				time.sleep(0.05)
		server.stop()
		last_error = log.read_text() if log.exists() else f"exit code {process.returncode}"
	raise RuntimeError(f"redis-server did not start on a loopback port: {last_error}")
