"""Notifications: who is told what — nearest units, the dispatcher live stream."""
