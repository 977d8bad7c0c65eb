"""The framework-free engine: it imports only rq, redis, croniter and the standard library.

Everything that touches Frappe lives outside this package (``jobkit.frappe_host`` and the app's
DocTypes); the engine reaches its host only through the ``Host`` protocol in ``host.py``.
"""
