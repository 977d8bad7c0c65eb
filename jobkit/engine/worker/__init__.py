"""jobkit's RQ workers: ``rq worker --worker-class jobkit.engine.worker.Worker`` (a stored path).

A worker takes a job off its queue with a note (``jobkit.engine.taking``, shared with the reaper,
which gives back what a lost worker took), then: ``starting`` (the note gone and the run in flight,
in one step), ``workhorse`` (the forking worker renews its work-horse's entry; the work-horse dies
with it), ``workers`` (the classes, imported when first named: PEP 562).
"""

import importlib

_EXPORTS = {"Worker": "workers", "SimpleWorker": "workers", "start": "starting"}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
	if name not in _EXPORTS:
		raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
	return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
