"""Alarms: button ingress, device trust, and the single writer of every alarm's state."""
