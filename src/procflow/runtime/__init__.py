"""Application services: each command is one transaction (load -> step -> save -> commit)."""
