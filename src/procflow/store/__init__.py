"""Persistence: one ``Store`` port, a shared SQL core and small dialect subclasses."""
