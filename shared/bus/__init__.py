"""The message bus as services see it, one subject a module:

- `broker`: the Kafka broker every service builds (acks=all, metrics middleware);
- `subscribers`: subscriber settings and the subscription table of each handlers.py;
- `processing`: parse, handle with retries, or dead-letter; the consumers' counters;
- `publishers`: the Publisher services depend on and its Kafka implementations;
- `background`: rounds run every interval, and work left running after an acknowledgement.
"""
