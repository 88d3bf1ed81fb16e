"""Operator tools: county generator, simulator, benchmark."""
