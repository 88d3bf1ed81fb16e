"""Code every SafeCampus service shares: settings, events, topics, Kafka/MongoDB factories, ops."""
