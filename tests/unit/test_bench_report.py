"""The bench names the database server its numbers were taken on."""

from __future__ import annotations

from tools.bench import describe_server


def test_the_python_and_rust_secantus_servers_and_mongod_are_told_apart() -> None:
    python = describe_server({"version": "8.2.11", "secantusVersion": "0.7.0b3"})
    rust = describe_server({"version": "8.2.11", "secantusVersion": "0.5.3-beta.196"})
    assert python == "SecantusDB 0.7.0b3 (Python server, speaks MongoDB 8.2.11)"
    assert rust == "SecantusDB 0.5.3-beta.196 (Rust server, speaks MongoDB 8.2.11)"
    assert describe_server({"version": "8.0.4"}) == "MongoDB 8.0.4"
