"""Old home of ``DocTypeQuery``, kept for one release: batch specs pickled in Redis name
``jobkit.doctype_query.DocTypeQuery``. It lives in ``jobkit.site.doctype_query``."""

from jobkit.site.doctype_query import DocTypeQuery

__all__ = ["DocTypeQuery"]
