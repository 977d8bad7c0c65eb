"""Old home of a batch chunk's job, kept for one release: chunk jobs written before the batches
package name ``jobkit.engine.batch_runner.run_chunk`` and ``chunk_failed``. They live in
``jobkit.engine.batches.running``."""

from jobkit.engine.batches.running import chunk_failed, run_chunk

__all__ = ["chunk_failed", "run_chunk"]
