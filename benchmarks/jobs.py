"""Job functions the benchmarks enqueue."""


def noop(**kwargs) -> None:
	pass


def noop_chunk(items: list, **kwargs) -> None:
	pass


def record_start(key: str, **kwargs) -> None:
	"""Note when the job's first line ran (Unix time) under ``key``."""
	import time

	import jobkit

	jobkit.get_host().connection.rpush(key, repr(time.time()))
