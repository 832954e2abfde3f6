"""A deterministic discrete-event simulator that runs the server's scheduling policy over a
workload trace in virtual time (formats: ../shared/traces/README.md)."""
