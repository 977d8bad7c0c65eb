"""What a job's limits say: ``Limit`` (at most n runs of a key at once), ``Rate`` (at most n starts
of a key in any window of ``per`` seconds) and a site's fair share of a queue, each turned into a
gate the job passes before it enters its queue (``gates``).

A key is a format string over the job's keyword arguments (``"shopify::{shop}"``), namespaced by
the host (a site's limits are its own). Everything is checked at enqueue, before anything is
written.
"""

import string

from jobkit.engine import keys
from jobkit.engine.errors import InvalidArgument
from jobkit.engine.numbers import is_number

# A gate's kind, the first letter of its id (see lua/gate_common.lua).
CONCURRENCY, RATE, FAIR = "c", "r", "f"

MAX_KEY_LENGTH = 200
# How long a rate-limited job waits for its turn when ``max_wait`` is not given: then it is a
# recorded failure that says so.
DEFAULT_RATE_MAX_WAIT = 3600


class _Rule:
	kind: str

	def __init__(self, key: object, n: object, max_wait: object):
		if not isinstance(key, str) or not key.strip():
			raise InvalidArgument(
				f"a limit's key must be a non-empty string (e.g. 'shopify::{{shop}}'), not {key!r}"
			)
		if isinstance(n, bool) or not isinstance(n, int) or n < 1:
			raise InvalidArgument(
				f"{type(self).__name__}({key!r}, {n!r}): the number must be a whole number of at least 1; "
				"to stop a key's jobs altogether, pause their queue instead"
			)
		if max_wait is not None and (not is_number(max_wait) or max_wait <= 0):
			raise InvalidArgument(
				f"max_wait must be a positive number of seconds (or None: wait as long as it takes), "
				f"not {max_wait!r}"
			)
		try:
			self.fields = [name for _, name, _, _ in string.Formatter().parse(key) if name is not None]
		except ValueError as e:
			raise InvalidArgument(f"a limit's key {key!r} is not a valid format string: {e}") from None
		for name in self.fields:
			if not name.isidentifier():
				raise InvalidArgument(
					f"a limit's key {key!r} names {{{name}}}: name a keyword argument of the job, "
					"e.g. {shop}"
				)
		self.key = key
		self.n = n
		self.max_wait = max_wait

	def rendered(self, kwargs: dict, method_path: str, parameters: "tuple[str, ...] | None") -> str:
		"""The key for this call's keyword arguments; InvalidArgument when it names one not given."""
		for name in self.fields:
			if name not in kwargs:
				if parameters is not None and name not in parameters:
					raise InvalidArgument(
						f"the limit key {self.key!r} names {{{name}}}, which {method_path} does not take "
						f"(its arguments: {', '.join(parameters) or 'none'}); name one of those"
					)
				raise InvalidArgument(
					f"the limit key {self.key!r} names {{{name}}}, which this enqueue of {method_path} "
					f"does not pass: pass {name}=... (the key needs its value)"
				)
		key = self.key.format(**{name: kwargs[name] for name in self.fields})
		if not key or len(key) > MAX_KEY_LENGTH:
			raise InvalidArgument(
				f"the limit key {self.key!r} comes to {len(key)} characters for this call; keep it "
				f"between 1 and {MAX_KEY_LENGTH}"
			)
		return key

	def __eq__(self, other) -> bool:
		return type(other) is type(self) and vars(other) == vars(self)

	def __hash__(self) -> int:
		return hash((type(self), self.key, self.n))


class Limit(_Rule):
	"""At most ``n`` runs of ``key`` at once, across every worker and host. A job over it waits, in
	no queue and holding no worker, and is let in as soon as a run of its key ends; a run whose
	process died frees its place when the reaper finds it (within its lease). ``max_wait``
	(seconds): after that long waiting, the job ends as a recorded failure (default: no bound)."""

	kind = CONCURRENCY

	def __init__(self, key: str, n: int, *, max_wait: float | None = None):
		super().__init__(key, n, max_wait)

	def __repr__(self) -> str:
		return f"jobkit.Limit({self.key!r}, {self.n})"


class Rate(_Rule):
	"""At most ``n`` starts of ``key`` in any window of ``per`` seconds (a sliding window, exact:
	see ``gates``). A job over it waits, in no queue, until the window's oldest start leaves it; a
	job that waited ``max_wait`` seconds (default an hour) ends as a recorded failure."""

	kind = RATE

	def __init__(self, key: str, n: int, per: float, *, max_wait: float | None = DEFAULT_RATE_MAX_WAIT):
		super().__init__(key, n, max_wait)
		if not is_number(per) or per <= 0:
			raise InvalidArgument(
				f"Rate({key!r}, {n!r}, per={per!r}): per must be a positive number of seconds, "
				"e.g. per=60 for a limit per minute"
			)
		self.per = per

	def __repr__(self) -> str:
		return f"jobkit.Rate({self.key!r}, {self.n}, per={self.per})"


def coerce(name: str, value: object, kind: type) -> "_Rule | None":
	if value is None or isinstance(value, kind):
		return value
	raise InvalidArgument(
		f"{name}= takes a jobkit.{kind.__name__}(...), not {value!r}"
		+ (
			" (e.g. jobkit.Limit('shopify::{shop}', 2))"
			if kind is Limit
			else " (e.g. jobkit.Rate('shopify', 40, per=60))"
		)
	)


def gates(
	namespace: str,
	method_path: str,
	queue: str,
	kwargs: dict,
	*,
	concurrency: Limit | None,
	rate: Rate | None,
	fair_weight: int | None,
	workers_key: str,
	parameters: "tuple[str, ...] | None",
) -> tuple[list[list], float | None]:
	"""The job's gates, as its RQ hash carries them ([id, n, period, workers key]), and how long it
	may wait for them (None: no bound)."""
	found, bounds = [], []
	for rule in (concurrency, rate):
		if rule is None:
			continue
		key = rule.rendered(kwargs, method_path, parameters)
		period = rule.per if isinstance(rule, Rate) else 0
		found.append([gate_id(rule.kind, namespace, key), rule.n, period, ""])
		if rule.max_wait is not None:
			bounds.append(rule.max_wait)
	if fair_weight:
		found.append([gate_id(FAIR, namespace, queue), fair_weight, 0, workers_key])
	return found, (min(bounds) if bounds else None)


def gate_id(kind: str, namespace: str, key: str) -> str:
	return f"{kind}:{keys.validate_namespace(namespace)}:{key}"


def parse_gate_id(gate_id_: str) -> tuple[str, str, str]:
	"""(kind, namespace, key) of a gate id (``gate_id``; a namespace holds no colon, a key may)."""
	kind, namespace, key = gate_id_.split(":", 2)
	return kind, namespace, key


def describe(gate_id_: str, n: int, period: float) -> str:
	"""A gate for people: "shopify::acme: at most 2 at once", "shopify: at most 40 starts per 60 s"."""
	kind, _, key = parse_gate_id(gate_id_)
	if kind == RATE:
		return f"{key}: at most {n} starts per {period:g} s"
	if kind == FAIR:
		return f"fair share of queue {key}: {n} per worker"
	return f"{key}: at most {n} at once"


__all__ = [
	"CONCURRENCY", "FAIR", "RATE", "Limit", "Rate", "coerce", "describe", "gate_id", "gates", "parse_gate_id",
]  # fmt: skip
