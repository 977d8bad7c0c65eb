"""A runnable tour of jobkit on the plain-RQ host: `bash scripts/dev demo`."""
