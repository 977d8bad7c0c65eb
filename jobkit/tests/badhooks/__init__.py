"""A test app whose scheduler_events hold one of each mistake `bench jobkit check` reports."""
