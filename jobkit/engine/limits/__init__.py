"""Flow control: per-key concurrency limits, rate limits and fair shares of a queue across sites
(``rules``), held at the queue's door by gates in Redis (``gates``)."""

from jobkit.engine.limits.rules import Limit, Rate

__all__ = ["Limit", "Rate"]
