"""jobkit: production-grade background jobs for Frappe, and for any RQ application.

``import jobkit`` imports nothing else: each name below is imported from its module when first used
(PEP 562), so that Frappe, which imports every app's package in every process, pays nothing for
jobkit until a process uses it. The engine (``jobkit.engine``) needs only rq, redis and croniter;
inside a Frappe site the Frappe host (``jobkit.site``) is used with no set-up; elsewhere
``jobkit.configure(redis_url=..., namespace=...)`` (or the ``JOBKIT_REDIS_URL`` /
``JOBKIT_NAMESPACE`` environment variables) selects the plain-RQ host.
"""

import importlib

__version__ = "0.1.0"

# Each exported name, and the module it comes from.
_EXPORTS = {
	"jobkit.engine.public": (
		"batch", "cancel_job", "configure", "current_job", "dead_letters", "enqueue", "get_host",
		"is_enqueued", "job_stats", "pause_queue", "paused_queues", "progress", "progress_of", "promote_due", "reap",
		"resume_queue", "skipped_runs",
	),
	"jobkit.engine.errors": (
		"DuplicateJob", "FinalFailure", "InvalidArgument", "InvalidMethod", "InvalidTimeout", "JobkitError",
		"LockNotOwned", "LockTimeout", "NotConfigured", "PayloadTooLarge", "RetryLater", "UnknownDeadLetter",
		"UnknownQueue", "UnknownSkippedRun", "UnserializableArguments", "WaitedTooLong", "WorkerLost",
	),
	"jobkit.engine.batches": ("BatchHandle", "BatchNotFound", "ChunkContext", "Query", "current_chunk"),
	"jobkit.engine.context": ("JobContext",),
	"jobkit.engine.dead_letter": ("DeadLetter",),
	"jobkit.engine.dead_letters": ("DeadLetters",),
	"jobkit.engine.handle": ("JobHandle",),
	"jobkit.engine.host": ("Host",),
	"jobkit.engine.jobfunction": ("JobFunction", "job", "light"),
	"jobkit.engine.limits": ("Limit", "Rate"),
	"jobkit.engine.locks": ("Lock", "lock"),
	"jobkit.engine.progress": ("Progress",),
	"jobkit.engine.reaper": ("Reaped",),
	"jobkit.engine.retries": ("Retry",),
	"jobkit.engine.rq_host": ("RQHost",),
	"jobkit.engine.skipped": ("SkippedRun", "SkippedRuns"),
	"jobkit.site.hooks_check": ("check_hooks",),
}  # fmt: skip
_MODULE_OF = {name: module for module, names in _EXPORTS.items() for name in names}
# Names for a Frappe site alone, importable anywhere but left out of `from jobkit import *`.
_SITE_ONLY = {
	"DocTypeQuery": "jobkit.site.doctype_query",
	"enqueue_doc": "jobkit.site.documents",
	"queue_action": "jobkit.site.documents",
}
# Submodules that are part of the API: `jobkit.health.check()`.
_SUBMODULES = ("health",)

__all__ = sorted([*_MODULE_OF, *_SUBMODULES, "__version__"])


def __getattr__(name: str):
	module = _MODULE_OF.get(name) or _SITE_ONLY.get(name)
	if module is None and name in _SUBMODULES:
		return importlib.import_module(f"{__name__}.{name}")
	if module is None:
		raise AttributeError(f"module 'jobkit' has no attribute {name!r}")
	value = globals()[name] = getattr(importlib.import_module(module), name)
	return value


def __dir__() -> list[str]:
	return sorted({*globals(), *__all__, *_SITE_ONLY})
