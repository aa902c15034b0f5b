"""Guarded rollouts: state in the database, ramp-safe assignment, sequential statistics, guardrails."""
