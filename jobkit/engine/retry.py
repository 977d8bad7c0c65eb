"""Old home of the retry policy, kept for one release: pickled ``Retry`` values (a batch's spec)
name ``jobkit.engine.retry.Retry``. The policy lives in ``jobkit.engine.retries``."""

from jobkit.engine.retries import Retry, compute_backoff

__all__ = ["Retry", "compute_backoff"]
