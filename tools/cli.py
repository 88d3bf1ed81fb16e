"""`safecampus`: the one command line of the project.

    safecampus users add NAME --role dispatcher   add a user who signs in to the pages
    safecampus token --role unit --sub U001        print a user token (reads JWT_SECRET)
    safecampus simulate --duration 60              the simulated county, against running services
    safecampus topics plan|apply                   the declared topics against the cluster
    safecampus serve alarms                        run one service (as `python -m services.alarms`)
    safecampus specs                               write docs/api/ (OpenAPI per service, AsyncAPI)

Each subcommand takes --help. Settings come from the environment (docs/configuration.md).
"""

from __future__ import annotations

import sys
from collections.abc import Callable

SERVICES = ("alarms", "patrols", "notifications", "reporting")


def _users(argv: list[str]) -> None:
    from shared.users import main

    main(argv)


def _token(argv: list[str]) -> None:
    from shared.auth import main

    main(argv)


def _simulate(argv: list[str]) -> None:
    from tools.simulate import main

    main(argv)


def _specs(argv: list[str]) -> None:
    from tools.export_specs import main

    main(argv)


def _topics(argv: list[str]) -> None:
    if argv not in (["plan"], ["apply"]):
        sys.exit("usage: safecampus topics plan|apply")
    from shared.topics_plan import main

    sys.exit(main(argv))


def _serve(argv: list[str]) -> None:
    if len(argv) != 1 or argv[0] not in SERVICES:
        sys.exit(f"usage: safecampus serve {{{','.join(SERVICES)}}}")
    service = argv[0]
    from shared.web import run

    module = __import__(f"services.{service}.main", fromlist=["create_app"])
    run(module.create_app, name=service, port_of=f"{service}_port")


COMMANDS: dict[str, Callable[[list[str]], None]] = {
    "users": _users,
    "token": _token,
    "simulate": _simulate,
    "topics": _topics,
    "serve": _serve,
    "specs": _specs,
}


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] in ("-h", "--help") or args[0] not in COMMANDS:
        print(__doc__)
        sys.exit(0 if args and args[0] in ("-h", "--help") else 2)
    COMMANDS[args[0]](args[1:])


if __name__ == "__main__":
    main()
