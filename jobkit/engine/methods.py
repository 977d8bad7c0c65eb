"""Job targets: turning a callable into the dotted path a worker imports, and back.

Workers import jobs by dotted path, so a target must be a module-level function (or a static or
class method of a module-level class). Catching a wrong target at enqueue time turns a job that
would fail in a worker log an hour later into an error in the caller's traceback now.
"""

import functools
import importlib
import inspect
import re
from collections.abc import Callable

from jobkit.engine.errors import InvalidMethod

DOTTED_PATH = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+$")


# Dotted paths this process has imported once: a module imported stays imported, so the check of a
# job's method, on every enqueue, costs a set look-up after the first. Bounded.
IMPORTABLE_KEPT = 1024
_importable: set[str] = set()


def dotted_path(target: object, *, check_import: bool = True) -> str:
	"""Return the dotted path of a job target, checking it resolves to a callable.

	``check_import=False`` keeps only the syntax check, for processes that enqueue work whose
	code is installed on the workers alone.
	"""
	if isinstance(target, str):
		path = target.strip()
		if not DOTTED_PATH.match(path):
			raise InvalidMethod(
				f"job method {target!r} is not a dotted path: pass 'package.module.function' "
				"or the function object itself"
			)
		if check_import and path not in _importable:
			resolve(path)
			if len(_importable) >= IMPORTABLE_KEPT:
				_importable.clear()
			_importable.add(path)
		return path

	if not callable(target):
		raise InvalidMethod(
			f"job method must be a callable or a dotted path to one, not {type(target).__name__} ({target!r})"
		)
	if inspect.ismethod(target) and not inspect.isclass(target.__self__):
		raise InvalidMethod(
			f"job method {target!r} is bound to an instance, which a worker cannot rebuild: "
			"pass a module-level function and give it the data it needs (e.g. a document's "
			"doctype and name) as keyword arguments"
		)
	module = getattr(target, "__module__", None)
	qualname = getattr(target, "__qualname__", None)
	if not module or not qualname or "<lambda>" in qualname or "<locals>" in qualname:
		raise InvalidMethod(
			f"job method {target!r} is a lambda or is defined inside a function, so a worker "
			"cannot import it: move it to module level"
		)
	path = f"{module}.{qualname}"
	if module == "__main__":
		raise InvalidMethod(
			f"job method {qualname!r} lives in the __main__ script, which workers do not import: "
			"move it to an importable module"
		)
	if check_import and _unwrap(resolve(path)) is not _unwrap(target):
		raise InvalidMethod(
			f"job method {path!r} does not resolve back to the function given (it was replaced "
			"or shadowed after definition): pass its dotted path instead"
		)
	return path


def resolve(path: str) -> Callable:
	"""Import ``path`` and return the callable it names, with a clear error if it cannot."""
	parts = path.split(".")
	module = None
	for split in range(len(parts) - 1, 0, -1):
		module_name = ".".join(parts[:split])
		try:
			module = importlib.import_module(module_name)
		except ModuleNotFoundError as e:
			# Only "this module (or a parent) does not exist" means: try a shorter prefix. A
			# module that exists but fails to import one of its own dependencies is a real error.
			if e.name and (module_name == e.name or module_name.startswith(e.name + ".")):
				continue
			raise InvalidMethod(f"importing {module_name!r} for job method {path!r} failed: {e}") from e
		except Exception as e:
			raise InvalidMethod(
				f"importing {module_name!r} for job method {path!r} raised {type(e).__name__}: {e}"
			) from e
		break
	if module is None:
		raise InvalidMethod(
			f"job method {path!r} cannot be imported: no module {parts[0]!r} is installed here. "
			"Check the spelling and that the app is installed in this environment"
		)

	target: object = module
	for name in parts[split:]:
		try:
			target = getattr(target, name)
		except AttributeError:
			raise InvalidMethod(
				f"job method {path!r} cannot be found: {'.'.join(parts[:split])!r} has no "
				f"attribute {'.'.join(parts[split:])!r}"
			) from None
	if not callable(target):
		raise InvalidMethod(f"job method {path!r} names a {type(target).__name__}, which is not callable")
	return target


def _unwrap(fn: object) -> object:
	return inspect.unwrap(fn) if callable(fn) else fn


@functools.lru_cache(maxsize=IMPORTABLE_KEPT)
def parameters(path: str) -> tuple[str, ...] | None:
	"""The keyword parameters the callable at ``path`` takes, or None when it takes any (``**kwargs``)
	or its signature cannot be read."""
	fn = resolve(path)
	try:
		signature = inspect.signature(fn)  # a @jobkit.job's is its function's (``__wrapped__``)
	except (TypeError, ValueError):
		return None
	names = []
	for parameter in signature.parameters.values():
		if parameter.kind is inspect.Parameter.VAR_KEYWORD:
			return None
		if parameter.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY):
			names.append(parameter.name)
	return tuple(names)
