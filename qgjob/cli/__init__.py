"""The `qgjob` command line. Rich rendering lives only here."""
