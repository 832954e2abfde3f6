"""The claim path, once, over a driver of named operations: the server runs it on SQLite or
PostgreSQL, the simulator on dictionaries in virtual time."""
