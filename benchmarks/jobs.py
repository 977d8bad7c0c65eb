"""Job functions the benchmarks enqueue."""


def noop(**kwargs) -> None:
	pass


def noop_chunk(items: list, **kwargs) -> None:
	pass
