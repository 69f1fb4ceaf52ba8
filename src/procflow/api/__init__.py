"""The HTTP layer: parse, authorize, call one runtime service, render."""
