"""Which host is active, and which jobkit job (if any) is running in this context.

Order of choice in ``get_host``: the host of the job being run (so a job can enqueue more work
with no set-up), then the one ``configure`` set, then a registered provider, then the provider of
a framework jobkit has glue for, when that framework is imported in this process (the Frappe host
while a site is active), then ``JOBKIT_*`` environment variables.
"""

import contextvars
import importlib
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass

from jobkit.engine.errors import NotConfigured
from jobkit.engine.host import Host
from jobkit.engine.rq_host import RQHost, rq_host_from_env, rq_host_from_url

_configured: Host | None = None
_from_env: Host | None = None
_providers: list[Callable[[], Host | None]] = []
# The frameworks jobkit ships glue for: the module that says one is in use, and its provider (a
# dotted path, imported the first time that module is seen, never before: the engine itself
# imports no framework).
FRAMEWORK_PROVIDERS = {"frappe": "jobkit.site.boot.site_host"}
_framework_providers: dict[str, Callable[[], Host | None]] = {}
_lock = threading.Lock()

_job_host: contextvars.ContextVar[Host | None] = contextvars.ContextVar("jobkit_job_host", default=None)
_job: contextvars.ContextVar["JobContext | None"] = contextvars.ContextVar("jobkit_job", default=None)


@dataclass(frozen=True)
class JobContext:
	"""What a running job can know about itself (``jobkit.current_job()``)."""

	id: str
	rq_id: str | None
	method: str
	queue: str
	namespace: str
	attempt: int
	user: str | None
	enqueued_at: float


def configure(
	redis_url: str | None = None,
	*,
	connection=None,
	namespace: str = "default",
	host: Host | None = None,
	**options,
) -> Host:
	"""Select the plain-RQ host for this process (outside Frappe), or a ``host`` of your own.

	Give ``redis_url`` or a ``redis.Redis`` ``connection``; with neither, ``JOBKIT_REDIS_URL``
	is read; or give ``host``, a ready ``Host`` (e.g. an ``RQHost`` subclass that adds a scheduler).
	``options``: ``queues`` ({name: default timeout}), ``max_payload_bytes``, ``check_methods``,
	``result_ttl``, ``failure_ttl``, ``lease_seconds``, ``dead_letter_ttl``, ``progress_rate``,
	``progress_keep_seconds``. Redis is pinged,
	so a wrong address fails here rather than at the first enqueue.
	"""
	global _configured
	if sum(given is not None for given in (redis_url, connection, host)) > 1:
		raise NotConfigured("give one of redis_url, connection or host to jobkit.configure")
	if host is not None:
		if not isinstance(host, Host):
			raise NotConfigured(f"host must implement jobkit.Host, not {type(host).__name__}")
	elif connection is not None:
		host = RQHost(connection, namespace, **options)
	elif redis_url is not None:
		host = rq_host_from_url(redis_url, namespace, **options)
	else:
		host = rq_host_from_env()
		if host is None:
			raise NotConfigured(
				"jobkit.configure needs redis_url='redis://host:port/db' (or connection=redis.Redis(...)), "
				"or the JOBKIT_REDIS_URL environment variable"
			)
	_ping(host)
	with _lock:
		_configured = host
	return host


def reset() -> None:
	"""Forget the configured host (tests, and processes that switch Redis servers)."""
	global _configured, _from_env
	with _lock:
		_configured = None
		_from_env = None


def register_provider(provider: Callable[[], Host | None]) -> None:
	"""Add a function that returns a host when its framework is active, else None."""
	if provider not in _providers:
		_providers.append(provider)


def get_host() -> Host:
	host = _active_host() or _host_from_env()
	if host is None:
		raise NotConfigured(
			"jobkit has no host: inside Frappe, call it within a site (frappe.init and frappe.connect); "
			"elsewhere call jobkit.configure(redis_url='redis://host:port/db', namespace='myapp') "
			"or set JOBKIT_REDIS_URL (and JOBKIT_NAMESPACE) in the environment"
		)
	return host


def find_host() -> Host | None:
	"""The host ``get_host`` would return, or None where there is none (not even a valid one in the
	environment)."""
	host = _active_host()
	if host is not None:
		return host
	try:
		return _host_from_env()
	except NotConfigured:
		return None


def _active_host() -> Host | None:
	"""The running job's host, the configured one, or the host of an active framework."""
	host = _job_host.get() or _configured
	if host is not None:
		return host
	for provider in _providers:
		host = provider()
		if host is not None:
			return host
	for module, path in FRAMEWORK_PROVIDERS.items():
		if module in sys.modules:
			host = _framework_provider(module, path)()
			if host is not None:
				return host
	return None


def _framework_provider(module: str, path: str) -> Callable[[], Host | None]:
	provider = _framework_providers.get(module)
	if provider is None:
		module_path, _, name = path.rpartition(".")
		provider = _framework_providers[module] = getattr(importlib.import_module(module_path), name)
	return provider


def _host_from_env() -> Host | None:
	"""The host ``JOBKIT_REDIS_URL`` describes (built once), or None when it is not set."""
	global _from_env
	if _from_env is None:
		env_host = rq_host_from_env()
		if env_host is not None:
			with _lock:
				_from_env = _from_env or env_host
	return _from_env


def current_job() -> JobContext | None:
	"""The jobkit job running in this context, or None outside a job."""
	return _job.get()


def enter_job(host: Host, job: JobContext) -> tuple:
	return _job_host.set(host), _job.set(job)


def exit_job(tokens: tuple) -> None:
	host_token, job_token = tokens
	_job.reset(job_token)
	_job_host.reset(host_token)


def _ping(host: Host) -> None:
	try:
		host.connection.ping()
	except Exception as e:
		raise NotConfigured(
			f"cannot reach Redis for jobkit ({type(e).__name__}: {e}); is the server running?"
		) from e
