"""Targets of jobkit's own scheduler_events (see hooks.py)."""
