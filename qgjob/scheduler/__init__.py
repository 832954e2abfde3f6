"""Scheduling: which group a device should work on next, and how much of it. Pure code, run
by the server on every claim and (later) by the simulator in virtual time."""
