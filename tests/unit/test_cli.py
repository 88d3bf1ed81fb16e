"""The `safecampus` command line: its subcommands reach what they name."""

from __future__ import annotations

import pytest

from shared.auth import decode_token
from shared.topics import Topics
from tools.cli import COMMANDS, main, topics_plan


def test_topics_plan_lists_every_topic_with_its_partitions_and_dead_letters() -> None:
    plan = topics_plan(Topics()).splitlines()
    topics = {name for name in Topics().partitions() if not name.endswith(".dlq")}
    assert len(plan) == 1 + len(topics)
    feed = next(line.split() for line in plan if line.startswith("notifications.feed "))
    assert feed == ["notifications.feed", "1", "notifications.feed.dlq"], "one partition: the order"


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
