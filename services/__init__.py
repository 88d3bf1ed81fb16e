"""The four SafeCampus services; each runs as `python -m services.<name>`."""
