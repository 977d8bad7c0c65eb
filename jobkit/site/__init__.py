"""jobkit on a Frappe site: the Frappe host, the records it writes (``records``), what people do to
them (``actions``), and the site's own checks (``health``, ``hooks_check``). The engine never
imports this package."""
