"""Batches: work over many items, cut into chunks that run as jobs, with one fan-in at the end.

``jobkit.batch(method, items=... | query=..., chunk_size=100, max_parallel=4, ...)`` plans the
chunks and writes them with one jobkit job per chunk (``writing``: the first chunks run while the
rest are written); at most ``max_parallel`` of the jobs are queued at a time, and each chunk that
ends queues the next. The counts are kept in Redis by one script call per ended segment, so they
stay exact when chunks end together, are retried, or run again after their worker died (the
reaper); the call that ends the last chunk is the one that finishes the batch and runs
``on_complete`` (``ending``, ``finishing``).

A query is planned by keyset pagination: only the chunk boundaries are kept (one key per chunk),
and each chunk loads its own items when it runs, so planning a million rows never holds them.

The modules, each built on those before it: ``state`` (statuses, spec, reading a batch, its
progress), ``finishing``, ``chunks`` (a chunk's jobs), ``writing``, ``ending`` (a segment's end,
counted once), ``running`` (a chunk's run), ``creating`` (create, cancel, retry failed items,
``BatchHandle``).
"""

from jobkit.engine.batches.creating import BATCH_OPTIONS, BatchHandle, cancel, create, retry_failed
from jobkit.engine.batches.running import ChunkContext, current_chunk
from jobkit.engine.batches.state import (
	CANCELLED,
	COMPLETED,
	COMPLETED_WITH_ERRORS,
	FAILED,
	QUEUED,
	RUN_CHUNK_PATH,
	RUN_CHUNK_PATHS,
	RUNNING,
	STATUSES,
	BatchNotFound,
	BatchSpec,
	Query,
	failed_items,
	read_state,
)

__all__ = [
	"BATCH_OPTIONS",
	"CANCELLED",
	"COMPLETED",
	"COMPLETED_WITH_ERRORS",
	"FAILED",
	"QUEUED",
	"RUNNING",
	"RUN_CHUNK_PATH",
	"RUN_CHUNK_PATHS",
	"STATUSES",
	"BatchHandle",
	"BatchNotFound",
	"BatchSpec",
	"ChunkContext",
	"Query",
	"cancel",
	"create",
	"current_chunk",
	"failed_items",
	"read_state",
	"retry_failed",
]
