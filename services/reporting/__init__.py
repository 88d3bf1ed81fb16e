"""Reporting: read models built from events, and reports for the bureau."""
