"""qgjob: a test orchestrator for AppWright mobile end-to-end tests."""

__version__ = "0.1.0"
