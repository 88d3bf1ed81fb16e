"""The `safecampus` command line: its subcommands reach what they name."""

from __future__ import annotations

import pytest

from shared.auth import decode_token
from shared.topics import Topics
from shared.topics_plan import declared_table
from tools.cli import COMMANDS, main


def test_the_declared_topics_each_say_partitions_retention_and_why() -> None:
    table = declared_table(Topics().specs(), replication=3).splitlines()
    topics = {name for name in Topics().partitions() if not name.endswith(".dlq")}
    assert len(table) == 1 + len(topics) + 2, "a header, a line a topic, the DLQs, replication"
    feed = next(line.split() for line in table if line.startswith("notifications.feed "))
    assert feed[:5] == ["notifications.feed", "1", "7", "d", "delete"], "one partition: the order"
    assert table[-1] == "replication 3, min.insync.replicas 2"


def test_token_prints_a_token_the_services_accept(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "s" * 40
    monkeypatch.setenv("JWT_SECRET", secret)
    main(["token", "--role", "unit", "--sub", "U001"])
    principal = decode_token(secret, capsys.readouterr().out.strip())
    assert (principal.sub, principal.role) == ("U001", "unit")


@pytest.mark.parametrize("argv", [[], ["launch"], ["serve", "nowhere"], ["topics", "drop"]])
def test_a_wrong_command_says_how_and_exits_non_zero(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code not in (0, None)


def test_help_names_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--help"])
    assert exit_.value.code == 0
    shown = capsys.readouterr().out
    assert all(f"safecampus {name}" in shown for name in COMMANDS)
