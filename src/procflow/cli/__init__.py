"""The ``procflow`` command line."""
