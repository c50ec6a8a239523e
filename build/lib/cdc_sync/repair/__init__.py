"""Putting things right after the fact: dead-letter replay, resume of paused destinations, reconciliation."""
