"""Jobs that run a method of a document: ``jobkit.enqueue_doc`` and ``jobkit.queue_action``, the
counterparts of ``frappe.enqueue_doc`` and ``Document.queue_action``, with jobkit's options.

Each is a jobkit job whose method is ``run_doc_method`` or ``run_action`` below (dotted paths that
stay, as they are stored in queued jobs), with the document in its arguments (``doctype``, ``name``):
- unique per document and method by default: the job id is ``{doctype}::{name}::{method}``, so a
  second call while the first is queued or running gives the first one's handle
  (``enqueue_doc``) or is refused (``queue_action``); ``job_id=`` or ``unique=False`` change that;
- ``jobkit.progress()`` inside the method goes to the document's room (an open form sees it);
- retries, delays and the other options of ``jobkit.enqueue`` apply; on its final failure the job's
  Jobkit Failed Job record is linked from a comment on the document's timeline;
- ``queue_action`` locks the document as Frappe's does (a file lock that refuses saves and a second
  queued action) until its run starts; the run removes it first, as Frappe's ``execute_action``
  does, because the action's own save checks it. Then the unique key refuses a second action
  until the run ends.

Everything is checked before anything is written: an unknown DocType, a missing document, a method
the controller does not have. Like Frappe's, they are for server code and do not ask for a
whitelisted method: a desk button calls a whitelisted method that enqueues.
"""

import hashlib

from jobkit.engine import progress, public
from jobkit.engine.enqueue import MAX_JOB_ID_LENGTH
from jobkit.engine.errors import InvalidArgument, InvalidMethod, NotConfigured
from jobkit.engine.handle import JobHandle

try:
	import frappe
	from frappe import _

	from jobkit.site.text import as_text
except ImportError:  # outside a bench `jobkit.enqueue_doc` still imports, and says what it needs
	frappe = None

RUN_DOC_METHOD = "jobkit.site.documents.run_doc_method"
RUN_ACTION = "jobkit.site.documents.run_action"
JOB_METHODS = (RUN_DOC_METHOD, RUN_ACTION)
# What those two take for the document itself: a method's keyword arguments cannot use these names.
RESERVED = ("doctype", "name", "doc_method", "action")


def enqueue_doc(
	doctype: str,
	name: str | None = None,
	method: str | None = None,
	queue: str = "default",
	timeout: int | float | None = None,
	now: bool = False,
	**kwargs,
) -> JobHandle:
	"""Run ``frappe.get_doc(doctype, name).<method>(**kwargs)`` in the background; ``frappe.enqueue_doc``
	with jobkit's options (``job_id``, ``unique``, ``retry``, ``delay``... as ``jobkit.enqueue``).

	A Single DocType needs no ``name``. Unique per document and method unless told otherwise (a
	second call while one is queued or running returns that one's handle)."""
	_needs_a_site("enqueue_doc")
	doctype, name = _document(doctype, name, "enqueue_doc")
	_check_method(doctype, method, "enqueue_doc")
	kwargs.setdefault("job_id", job_id_for(doctype, name, method))
	return public.enqueue(
		RUN_DOC_METHOD,
		queue=queue,
		timeout=timeout,
		now=now,
		**_with_arguments(kwargs, doctype=doctype, name=name, doc_method=method),
	)


def queue_action(doc, action: str, **kwargs) -> JobHandle:
	"""``doc.queue_action(action, **kwargs)`` as a jobkit job: the document locked until its run
	starts, the action (its ``_<action>`` when the controller has one, as Frappe picks) run once
	at a time, after the caller's transaction commits unless ``enqueue_after_commit=False``.

	Raises ``frappe.DocumentLockedError`` ("Document Queued") while an action of the document is
	queued or running."""
	_needs_a_site("queue_action")
	from frappe.model.document import Document

	if not isinstance(doc, Document):
		raise InvalidArgument(
			f"jobkit.queue_action needs a document (frappe.get_doc(doctype, name)), not {type(doc).__name__}"
		)
	doctype, name = _document(doc.doctype, doc.name, "queue_action")
	if not isinstance(action, str) or not action:
		raise InvalidMethod(
			f"jobkit.queue_action: the action must be a method name such as 'submit', not {action!r}"
		)
	run = f"_{action}" if hasattr(doc, f"_{action}") else action
	_check_method(doctype, run, "queue_action")
	job_id = kwargs.setdefault("job_id", job_id_for(doctype, name, action))
	kwargs.setdefault("enqueue_after_commit", True)
	if public.is_enqueued(job_id):
		_refuse_queued()
	try:
		doc.lock()
	except frappe.DocumentLockedError:
		_refuse_queued()
	try:
		return public.enqueue(RUN_ACTION, **_with_arguments(kwargs, doctype=doctype, name=name, action=run))
	except BaseException:
		doc.unlock()
		raise


def run_doc_method(doctype: str, name: str, doc_method: str, **kwargs):
	"""The job of ``enqueue_doc``."""
	doc = frappe.get_doc(doctype, name)
	with progress.about(doctype, name):
		return getattr(doc, doc_method)(**kwargs)


def run_action(doctype: str, name: str, action: str, **kwargs) -> None:
	"""The job of ``queue_action``."""
	doc = frappe.get_doc(doctype, name)
	doc.unlock()  # the action's own save refuses a locked document (see the module's docstring)
	try:
		with progress.about(doctype, name):
			getattr(doc, action)(**kwargs)
	finally:
		doc.notify_update()  # an open form reloads


def note_final_failure(letter, record_name: str) -> None:
	"""Comment on the document of one of those jobs that failed for good, linking its failed-job record."""
	if letter.method not in JOB_METHODS:
		return
	arguments = letter.kwargs
	doctype, name = arguments.get("doctype"), arguments.get("name")
	if not (isinstance(doctype, str) and isinstance(name, str) and frappe.db.exists(doctype, name)):
		return  # the document is gone: the record stays in Jobkit Failed Job
	method = arguments.get("action") or arguments.get("doc_method")
	link = f'<a href="/app/jobkit-failed-job/{as_text(record_name)}">{as_text(record_name)}</a>'
	message = _("{0} failed after {1} attempt(s): {2}. Its job: Jobkit Failed Job {3}").format(
		f"<code>{as_text(str(method))}</code>", letter.attempts, as_text(letter.error), link
	)
	frappe.get_doc(doctype, name).add_comment("Comment", message)
	frappe.db.commit()


def job_id_for(doctype: str, name: str, method: str) -> str:
	"""The default unique job id of a document's method: ``{doctype}::{name}::{method}``, with the
	name replaced by its digest where the whole would pass the job id's limit."""
	job_id = f"{doctype}::{name}::{method}"
	if len(job_id) <= MAX_JOB_ID_LENGTH:
		return job_id
	return f"{doctype}::{hashlib.sha256(name.encode()).hexdigest()}::{method}"[:MAX_JOB_ID_LENGTH]


def _needs_a_site(caller: str) -> None:
	if frappe is None or not getattr(frappe.local, "site", None):
		raise NotConfigured(
			f"jobkit.{caller} runs a method of a Frappe document and needs a Frappe site; "
			"outside Frappe, enqueue the function that does the work with jobkit.enqueue"
		)


def _document(doctype, name, caller: str) -> tuple[str, str]:
	if not isinstance(doctype, str) or not doctype or not frappe.db.exists("DocType", doctype):
		raise InvalidArgument(
			f"jobkit.{caller}: there is no DocType {doctype!r} on this site. Pass a DocType's name, "
			"such as 'Sales Invoice'"
		)
	if name is None and frappe.get_meta(doctype).issingle:
		return doctype, doctype
	if not isinstance(name, str) or not name or not frappe.db.exists(doctype, name):
		raise InvalidArgument(
			f"jobkit.{caller}: there is no {doctype} named {name!r}. Pass the name of a saved document"
		)
	return doctype, name


def _check_method(doctype: str, method, caller: str) -> None:
	"""InvalidMethod, saying what is wrong, unless ``doctype``'s controller has a method ``method``."""
	if not isinstance(method, str) or not method:
		raise InvalidMethod(
			f"jobkit.{caller}: pass the name of a method of the {doctype} controller, not {method!r}"
		)
	from frappe.model.base_document import get_controller

	function = getattr(get_controller(doctype), method, None)
	if method.startswith("__") or not callable(function):
		raise InvalidMethod(
			f"jobkit.{caller}: the {doctype} controller has no method {method!r}. Pass the name of one "
			"of its methods"
		)


def _with_arguments(options: dict, **own_arguments) -> dict:
	clash = sorted(set(options) & set(RESERVED))
	if clash:
		raise InvalidArgument(
			f"keyword argument(s) {', '.join(clash)} are the document's own (doctype, name and method): "
			"rename the method's parameter"
		)
	return {**options, **own_arguments}


def _refuse_queued():
	frappe.throw(
		_("This document is currently locked and queued for execution. Please try again after some time."),
		title=_("Document Queued"),
		exc=frappe.DocumentLockedError,
	)
