"""The records the Frappe host writes: failed jobs, skipped runs, batches and health checks."""
