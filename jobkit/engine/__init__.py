"""The framework-free engine: it imports only rq, redis, croniter and the standard library.

Everything that touches Frappe lives in ``jobkit.site``; the engine reaches its host only through
the ``Host`` protocol (``host.py``), and names the Frappe glue once, as data
(``context.FRAMEWORK_PROVIDERS``), imported only inside a Frappe process.

Read it bottom-up: ``errors``, ``defaults``, ``keys``, ``scripts`` and ``envelope`` first; then the
Redis protocols, one concept each (``unique``, ``inflight``, ``taking``, ``lease``, ``delayed``,
``locks``); the records (``dead_letter``, ``skipped``); the hosts (``host``, ``rq_host``,
``context``); what writes and runs a job (``retries``, ``enqueue``, ``runner``, ``dead_letters``,
``stats``);
then the packages (``limits``, ``batches``, ``worker``, ``health``), the ``reaper``, the ``promoter`` process,
and ``public``, the functions ``jobkit`` exports.

Glossary (each word has this one meaning in the code and its docs):

job
    A function jobkit runs in the background, named by its dotted path, with a job id (the
    ``job_id`` given, else a fresh one per call).
call
    One accepted ``jobkit.enqueue`` (or batch, or retry of a record). It ends in exactly one
    outcome a user can find: it ran, it is a dead letter, or a skipped run says why it did not.
attempt
    One try of a call. A failed attempt that its retry policy retries is followed by the next
    attempt: a new RQ job, with a fresh RQ id, carrying the envelope with the attempt count plus one.
envelope
    What an attempt carries inside its RQ job (``envelope.Envelope``): method, arguments, queue,
    user, attempt, unique key, lease. A versioned plain dict on the wire.
run
    An attempt being executed by a worker, from its start to its outcome; named by its RQ id.
key
    A unique job's Redis key (``unique``). The RQ id stored in it is its holder; a queued attempt or
    a run *holds* the key, and "hold" means nothing else.
lease
    How long an entry lives unless renewed: a running job's key, a run's in-flight entry, a lock.
    Renewed while its process lives, so a dead process frees it within one lease.
in flight
    The registry of runs under way, each under a lease (``inflight``). A run whose lease ran out
    with no outcome is lost, and the reaper retries it or records it (``reaper``).
take, start
    A jobkit worker takes a job off its queue with a note that it did (``taking.take``), then starts
    it: the note goes and the run goes in flight, in one step (``taking.start``).
pause
    A paused queue is one jobkit's workers take nothing from until it is resumed (``pausing``);
    enqueues go on and running jobs finish.
limit, gate
    A limit says how many runs of a key may go on at once (``Limit``), start in any window of time
    (``Rate``), or be queued or running for a site on a queue (a fair share). Each is held by a gate
    in Redis at the queue's door (``limits``): a job is let in (onto its queue, taking a place)
    when all its gates are open, and otherwise waits at the first closed one, in no queue.
hand-off
    A scheduler's run of an ``@jobkit.job`` target, sent to the target's own queue as a unique job
    instead of running in the scheduler's slot (``jobfunction``).
dead letter, skipped run
    The record of a call whose last attempt failed (``dead_letter``), and of a call not run on
    purpose (``skipped``: an overlapping scheduled run, an attempt superseded by a newer call, or a
    waiting attempt a person cancelled).
stats
    Counters of runs that ended, per queue, method and minute or hour: runs, failures, time run,
    time waited, a histogram of run times (``stats``). Every run of the host's jobs, jobkit's or
    not, where the host's job wrapper has hooks (Frappe's); jobkit's own runs on plain RQ.
batch, chunk, segment
    A batch runs a method over items in chunks, one job per chunk; a chunk that checkpoints runs its
    rest as a further segment (``batches``).

Status words are those of the vocabularies they come from: RQ's ("queued", "started",
"finished"), a progress state's ("running", "done"), and a batch's, which are its DocType's
options ("Queued", "Running", "Completed").
"""
