"""Named defaults shared by both hosts. Each one mirrors Frappe v15 where Frappe has an opinion."""

# Frappe's get_queues_timeout(): the queues every bench has, with their default job timeouts.
DEFAULT_QUEUE_TIMEOUTS: dict[str, int] = {"short": 300, "default": 300, "long": 1500}

# Frappe's fallback when a queue has no configured timeout.
FALLBACK_TIMEOUT = 300

# A job larger than this is almost always a mistake (a whole document list passed by value);
# it also bloats Redis memory for as long as the job and its failure record live.
DEFAULT_MAX_PAYLOAD_BYTES = 1024 * 1024

# Frappe's RQ_RESULTS_TTL and RQ_JOB_FAILURE_TTL.
RESULT_TTL = 10 * 60
FAILURE_TTL = 7 * 24 * 60 * 60

# TTL of a unique key or lock held by a running job; renewed every third of it while the job's
# process lives, so a killed job frees its key within this many seconds.
LEASE_SECONDS = 60

# How long a worker's note that it took a job off its queue lasts (taking.py): a worker lost
# before starting the job has its job given back this long after it took it. A worker normally
# starts the job within milliseconds; one slower than this finds the job given back and leaves it.
TAKEN_SECONDS = 30

# A lock's TTL when none is given: how long a crashed holder (no auto-extend) blocks the others.
LOCK_TTL = 60

# How long the plain-RQ host keeps a dead letter (a job's record of its final failure). On a
# Frappe site, Log Settings decides ("Jobkit Failed Job", 30 days unless changed there).
DEAD_LETTER_TTL = 30 * 24 * 60 * 60

# Progress: at most this many messages a second per job (the first and last states always go),
# and how long a job's last state stays readable after it ended (a reload, a late page).
PROGRESS_RATE = 4
PROGRESS_KEEP_SECONDS = 3600

# Version of the envelope a job carries; a runner refuses envelopes it does not understand.
ENVELOPE_VERSION = 1
