"""Patrols: units, positions, patrol points, guard posts, check-ins, violations."""
