"""Procflow: a durable business-process runtime with a FlowX.AI-compatible REST API."""

__version__ = "0.1.0"
