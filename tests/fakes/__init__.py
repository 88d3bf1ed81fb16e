"""In-memory fakes of the production ports, for unit tests; each held to its real
counterpart by a contract suite (tests/contracts)."""
