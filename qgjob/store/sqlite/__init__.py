from qgjob.store.sqlite.store import SQLiteStore

__all__ = ["SQLiteStore"]
