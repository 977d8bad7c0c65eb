"""``jobkit.DocTypeQuery``: a batch's items read from a DocType by keyset pagination.

``jobkit.batch(method, query=jobkit.DocTypeQuery("ToDo", filters={"status": "Open"}))`` plans
the batch by reading only the keys, one page (chunk) at a time, ``WHERE key > last ORDER BY key
LIMIT chunk_size``, and keeps only each chunk's first and last key; each chunk then loads its
own rows when it runs. A key must be unique, so that no row falls between two pages: ``name``
(the default) or a field marked unique (indexed by that). Rows are read with ``frappe.get_all``,
as background code does: without the permission checks of a request.
"""

from typing import Any

from jobkit.engine.errors import InvalidArgument, NotConfigured

try:
	import frappe
except ImportError:  # outside a bench `jobkit.DocTypeQuery` still imports, and says what it needs
	frappe = None

STANDARD_UNIQUE_KEYS = ("name",)


class DocTypeQuery:
	"""Rows of ``doctype`` matching ``filters``, in ``key`` order.

	Each chunk gets the key values (``fields=None``), or dicts of ``fields`` (the key included).
	"""

	def __init__(
		self,
		doctype: str,
		filters: dict | list | None = None,
		key: str = "name",
		fields: list[str] | None = None,
	):
		if frappe is None:
			raise NotConfigured(
				"jobkit.DocTypeQuery pages a Frappe DocType and needs a Frappe site; elsewhere pass "
				"query= an object with keys_after(after, limit) and load(after, upto) (jobkit.Query)"
			)
		if not isinstance(doctype, str) or not frappe.db.exists("DocType", doctype):
			raise InvalidArgument(f"DocTypeQuery: {doctype!r} is not a DocType of this site")
		meta = frappe.get_meta(doctype)
		if meta.issingle or meta.istable:
			raise InvalidArgument(f"DocTypeQuery: {doctype} is a single or child DocType; page a normal one")
		if key not in STANDARD_UNIQUE_KEYS:
			field = meta.get_field(key) if isinstance(key, str) else None
			if field is None or not field.unique:
				raise InvalidArgument(
					f"DocTypeQuery: key {key!r} of {doctype} is not unique; page by 'name' or by a field "
					"marked Unique, so that no row is skipped or read twice between two chunks"
				)
		if filters is not None and not isinstance(filters, dict | list):
			raise InvalidArgument(
				f"DocTypeQuery: filters must be a dict or a list of filters, not {filters!r}"
			)
		if fields is not None and (
			not isinstance(fields, list) or not all(isinstance(name, str) and name for name in fields)
		):
			raise InvalidArgument(f"DocTypeQuery: fields must be a list of field names, not {fields!r}")
		self.doctype = doctype
		self.filters = _as_list(filters)
		self.key = key
		self.fields = fields
		# Fails now, not in a worker, on an unknown field or a bad filter.
		self.keys_after(None, 1)
		if fields:
			self.load(None, None, limit=1)

	def __repr__(self) -> str:
		return f"DocTypeQuery({self.doctype!r}, filters={self.filters!r}, key={self.key!r})"

	def keys_after(self, after: Any, limit: int) -> list:
		return self._read(after, None, limit, pluck=self.key)

	def load(self, after: Any, upto: Any, limit: int | None = None) -> list:
		if not self.fields:
			return self._read(after, upto, limit, pluck=self.key)
		return self._read(after, upto, limit, fields=list(dict.fromkeys([self.key, *self.fields])))

	def _read(self, after: Any, upto: Any, limit: int | None, **columns) -> list:
		return frappe.get_all(
			self.doctype,
			filters=self._range(after, upto),
			# A bare field name: Frappe v16's query builder refuses backticks in order_by.
			order_by=f"{self.key} asc",
			limit=limit,
			**columns,
		)

	def _range(self, after: Any, upto: Any) -> list:
		bounds = []
		if after is not None:
			bounds.append([self.key, ">", after])
		if upto is not None:
			bounds.append([self.key, "<=", upto])
		return [*self.filters, *bounds]


def _as_list(filters: dict | list | None) -> list:
	"""Filters as a list of [field, operator, value], so the key's bounds can be added to them."""
	if not filters:
		return []
	if isinstance(filters, list):
		return list(filters)
	out = []
	for field, condition in filters.items():
		if isinstance(condition, list | tuple) and len(condition) == 2:
			out.append([field, condition[0], condition[1]])
		else:
			out.append([field, "=", condition])
	return out
