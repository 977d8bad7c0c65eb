"""The plain-RQ host: a plain Redis + RQ application's jobs, dead letters and skipped runs.

Built from a connection (``RQHost``), a Redis URL (``connect`` reads ``redis://``, ``rediss://``,
``unix://`` and ``redis+sentinel://``) or the ``JOBKIT_*`` environment variables of a worker
process (``rq_host_from_env``).
"""

import json
import logging
import os
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from typing import Any

import redis

from jobkit.engine import defaults, keys
from jobkit.engine.dead_letter import DeadLetter
from jobkit.engine.dead_letters import DeadLetters
from jobkit.engine.errors import InvalidArgument, NotConfigured
from jobkit.engine.numbers import is_number, whole_number
from jobkit.engine.skipped import OVERLAP, SkippedRun, SkippedRuns

# What RQ calls for every jobkit job of the plain-RQ host (a stored dotted path: it stays).
RUNNER_PATH = "jobkit.engine.runner.run"
DEFAULT_QUEUE_NAMES = tuple(defaults.DEFAULT_QUEUE_TIMEOUTS)

logger = logging.getLogger("jobkit")


class RQHost:
	"""A plain Redis + RQ application: scripts, Flask, FastAPI, and jobkit's own engine tests.

	There is no database transaction here, so ``enqueue_after_commit`` enqueues at once and
	``commit``/``rollback`` do nothing. Dead letters and skipped runs are kept in Redis
	(``dead_letters``, ``skipped_runs``), as long as each other (``dead_letter_ttl``).
	"""

	name = "rq"

	def __init__(
		self,
		connection: redis.Redis,
		namespace: str = "default",
		*,
		queues: dict[str, int] | None = None,
		max_payload_bytes: int = defaults.DEFAULT_MAX_PAYLOAD_BYTES,
		check_methods: bool = True,
		result_ttl: int = defaults.RESULT_TTL,
		failure_ttl: int = defaults.FAILURE_TTL,
		lease_seconds: float = defaults.LEASE_SECONDS,
		dead_letter_ttl: int = defaults.DEAD_LETTER_TTL,
		progress_rate: float = defaults.PROGRESS_RATE,
		progress_keep_seconds: int = defaults.PROGRESS_KEEP_SECONDS,
		fair_shares: dict[str, int] | None = None,
	):
		if not isinstance(connection, redis.Redis):
			raise InvalidArgument(
				f"connection must be a redis.Redis client, not {type(connection).__name__}; "
				"or pass redis_url='redis://host:port/db'"
			)
		self._connection = connection
		self._namespace = keys.validate_namespace(namespace)
		self._queues = _validate_queues(defaults.DEFAULT_QUEUE_TIMEOUTS if queues is None else queues)
		self._max_payload_bytes = whole_number("max_payload_bytes", max_payload_bytes)
		self.check_methods = bool(check_methods)
		if not is_number(lease_seconds) or lease_seconds <= 0:
			raise InvalidArgument(f"lease_seconds must be a positive number, not {lease_seconds!r}")
		self._lease_seconds = lease_seconds
		if not is_number(progress_rate) or progress_rate <= 0:
			raise InvalidArgument(
				f"progress_rate must be a positive number of messages a second, not {progress_rate!r}"
			)
		self._progress_rate = progress_rate
		self._progress_keep_seconds = whole_number("progress_keep_seconds", progress_keep_seconds)
		self._job_options = {
			"result_ttl": whole_number("result_ttl", result_ttl),
			"failure_ttl": whole_number("failure_ttl", failure_ttl),
		}
		self._rq_queues: dict[str, Any] = {}
		self._fair_shares = _validate_fair_shares(fair_shares or {}, self._queues)
		self.dead_letters = DeadLetters(self, whole_number("dead_letter_ttl", dead_letter_ttl))
		self.skipped_runs = SkippedRuns(self, self.dead_letters.ttl)

	def __repr__(self) -> str:
		return f"<RQHost namespace={self._namespace!r} queues={list(self._queues)}>"

	@property
	def namespace(self) -> str:
		return self._namespace

	@property
	def fair_shares(self) -> dict[str, int]:
		return self._fair_shares

	@property
	def connection(self) -> redis.Redis:
		return self._connection

	@property
	def max_payload_bytes(self) -> int:
		return self._max_payload_bytes

	@property
	def lease_seconds(self) -> float:
		return self._lease_seconds

	@property
	def naive_timezone(self):
		return None

	@property
	def progress_rate(self) -> float:
		return self._progress_rate

	@property
	def progress_keep_seconds(self) -> int:
		return self._progress_keep_seconds

	def queue_timeouts(self) -> dict[str, int]:
		return dict(self._queues)

	def rq_queue(self, name: str):
		queue = self._rq_queues.get(name)
		if queue is None:
			from rq import Queue

			queue = self._rq_queues[name] = Queue(name, connection=self._connection)
		return queue

	def queue_name(self, rq_name: str) -> str:
		return rq_name  # RQ's queues bear jobkit's queue names

	def rq_job_id(self, job_id: str) -> str:
		return keys.rq_job_id(self._namespace, job_id)

	# RQ has no job hooks: jobkit's runner records its runs' stats.
	records_stats = True

	def runs_in_place(self) -> bool:
		return False

	def check_capacity(self, queue: str) -> None:
		pass  # plain RQ sets no bound on a queue

	def job_call(self, envelope: dict) -> tuple[str, dict]:
		return RUNNER_PATH, {"job": envelope}

	def envelope_of(self, rq_job) -> dict | None:
		envelope = rq_job.kwargs.get("job") if rq_job.func_name == RUNNER_PATH else None
		return envelope if isinstance(envelope, dict) else None

	def job_options(self) -> dict:
		return dict(self._job_options)

	def current_user(self) -> str | None:
		return None

	def is_transient(self, exc: BaseException) -> bool:
		return False

	def after_commit(self, fn: Callable[[], Any]) -> None:
		fn()

	def commit(self) -> None:
		pass

	def rollback(self) -> None:
		pass

	def publish(self, event: str, message: dict, user: str | None = None, room: str | None = None) -> None:
		envelope = {"event": event, "message": message, "user": user, "room": room}
		self._connection.publish(keys.events_channel(self._namespace), json.dumps(envelope, default=str))

	def publish_progress(self, state: dict) -> None:
		# Rooms as Frappe names them; a consumer of the channel forwards each message to its room.
		if state["reference_doctype"]:
			room = f"doc:{state['reference_doctype']}/{state['reference_name']}"
		elif state["owner"]:
			room = f"user:{state['owner']}"
		else:
			room = f"job:{state['id']}"  # no owner (plain RQ has no users): the job's own room
		self.publish(keys.PROGRESS_EVENT, state, user=state["owner"], room=room)

	def log_error(self, title: str, message: str | None = None) -> None:
		logger.error("%s%s", title, f"\n{message}" if message else "")

	def dead_letter(self, letter: DeadLetter) -> None:
		self.dead_letters.add(letter)

	def scheduler_target(self) -> str | None:
		return None  # plain RQ has no scheduler that calls functions as targets

	def record_skipped_run(self, skipped: SkippedRun) -> None:
		self.skipped_runs.add(skipped)
		if skipped.reason == OVERLAP:
			logger.warning(
				"jobkit: skipped a run of %s: %s is still %s",
				skipped.method,
				skipped.holder,
				skipped.holder_status,
			)

	def item_scope(self) -> AbstractContextManager:
		return nullcontext()  # no transaction to undo: a per-item batch's method undoes its own writes

	def batch_changed(self, state: dict) -> None:
		fields = ("id", "title", "status", "total", "done", "failed", "chunks", "chunks_done")
		self.publish(keys.BATCH_EVENT, {name: state[name] for name in fields}, user=state["user"] or None)


SENTINEL_SCHEME = "redis+sentinel://"


def rq_host_from_url(redis_url: str, namespace: str = "default", **options) -> RQHost:
	return RQHost(connect(redis_url), namespace, **options)


def connect(redis_url: object) -> redis.Redis:
	"""A client for a Redis URL: ``redis://``, ``rediss://`` and ``unix://`` as redis-py reads them,
	or ``redis+sentinel://[[user]:password@]host:port[,host:port...]/master[/db]`` for the current
	master of a Sentinel-monitored set (``?sentinel_password=...&sentinel_username=...`` when the
	Sentinels themselves ask for credentials); the client finds the new master after a failover."""
	if not isinstance(redis_url, str) or "://" not in redis_url:
		raise InvalidArgument(
			f"redis_url {redis_url!r} is not a Redis URL: use e.g. 'redis://127.0.0.1:6379/0', or "
			"'redis+sentinel://127.0.0.1:26379/mymaster/0' for a Sentinel-monitored Redis"
		)
	if not redis_url.startswith(SENTINEL_SCHEME):
		return redis.Redis.from_url(redis_url)
	from urllib.parse import parse_qs, unquote, urlsplit

	from redis.sentinel import Sentinel

	parts = urlsplit(redis_url)
	credentials, _, hosts = parts.netloc.rpartition("@")
	username, _, password = credentials.partition(":") if credentials else ("", "", "")
	sentinels = []
	for node in filter(None, hosts.split(",")):
		host, _, port = node.rpartition(":")
		if not host or not port.isdigit():
			raise InvalidArgument(f"{redis_url!r}: Sentinel {node!r} is not host:port (e.g. 127.0.0.1:26379)")
		sentinels.append((host, int(port)))
	path = [unquote(part) for part in parts.path.split("/") if part]
	if not sentinels or not 1 <= len(path) <= 2 or (len(path) == 2 and not path[1].isdigit()):
		raise InvalidArgument(
			f"{redis_url!r} is not a Sentinel URL: use 'redis+sentinel://host:26379[,host:26379]/master[/db]'"
		)
	query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
	sentinel_auth = {
		key: query[f"sentinel_{key}"] for key in ("username", "password") if query.get(f"sentinel_{key}")
	}
	sentinel = Sentinel(sentinels, sentinel_kwargs=sentinel_auth or None)
	return sentinel.master_for(
		path[0],
		db=int(path[1]) if len(path) == 2 else 0,
		username=unquote(username) or None,
		password=unquote(password) or None,
	)


def rq_host_from_env(environ=os.environ) -> RQHost | None:
	"""The plain-RQ host described by ``JOBKIT_*`` environment variables, for worker processes."""
	url = environ.get("JOBKIT_REDIS_URL")
	if not url:
		return None
	options: dict[str, Any] = {}
	if environ.get("JOBKIT_QUEUES"):
		options["queues"] = parse_queues(environ["JOBKIT_QUEUES"])
	if environ.get("JOBKIT_MAX_PAYLOAD_BYTES"):
		options["max_payload_bytes"] = _int_from_env("JOBKIT_MAX_PAYLOAD_BYTES", environ)
	if environ.get("JOBKIT_DEAD_LETTER_TTL"):
		options["dead_letter_ttl"] = _int_from_env("JOBKIT_DEAD_LETTER_TTL", environ)
	return rq_host_from_url(url, environ.get("JOBKIT_NAMESPACE") or "default", **options)


def parse_queues(text: str) -> dict[str, int]:
	"""Parse ``"default:300,short:300,long:1500"`` (the form of ``JOBKIT_QUEUES``)."""
	queues = {}
	for item in text.split(","):
		name, sep, timeout = item.strip().partition(":")
		if not name or not sep or not timeout.strip().isdigit():
			raise NotConfigured(
				f"JOBKIT_QUEUES={text!r} is not valid: write name:timeout pairs separated by "
				"commas, e.g. 'default:300,short:300,long:1500'"
			)
		queues[name] = int(timeout)
	return queues


def _validate_queues(queues: dict[str, int]) -> dict[str, int]:
	if not isinstance(queues, dict) or not queues:
		raise InvalidArgument("queues must be a non-empty dict of queue name to default timeout in seconds")
	for name, timeout in queues.items():
		if not isinstance(name, str) or not name or ":" in name:
			raise InvalidArgument(f"queue name {name!r} is not valid: use a non-empty name without ':'")
		whole_number(f"timeout of queue {name!r}", timeout)
	return dict(queues)


def _int_from_env(name: str, environ) -> int:
	try:
		return int(environ[name])
	except ValueError:
		raise NotConfigured(f"{name}={environ[name]!r} is not a whole number") from None


def _validate_fair_shares(shares: object, queues: dict[str, int]) -> dict[str, int]:
	if not isinstance(shares, dict):
		raise InvalidArgument(
			f"fair_shares must be a dict of queue name to weight ({{'long': 1}}), not {shares!r}"
		)
	for queue, weight in shares.items():
		if queue not in queues:
			raise InvalidArgument(
				f"fair_shares names queue {queue!r}, which is not one of this host's: {', '.join(queues)}"
			)
		whole_number(f"fair_shares[{queue!r}]", weight)
	return dict(shares)
