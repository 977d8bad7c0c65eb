"""Job functions the benchmarks enqueue (never run: the benchmarks measure enqueueing)."""


def noop(**kwargs) -> None:
	pass
