"""A deterministic discrete-event simulator that runs the server's scheduling policy over a
workload trace in virtual time (formats: examples/traces/README.md)."""
