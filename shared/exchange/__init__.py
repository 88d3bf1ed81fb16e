"""Alarms in the formats other systems read: OASIS CAP 1.2 (XML) and NENA EIDO (JSON), each
validated against its published schema (schemas/)."""
