"""The committed OpenAPI and AsyncAPI documents match the code."""

from tools.export_specs import documents


def test_committed_api_documents_are_up_to_date() -> None:
    stale = [
        str(path)
        for path, text in documents().items()
        if not path.exists() or path.read_text(encoding="utf-8") != text
    ]
    assert stale == [], "run `safecampus specs` and commit docs/api/"


def test_the_lifecycle_and_its_timers_are_described_in_the_openapi() -> None:
    alarms = next(text for path, text in documents().items() if path.name == "openapi-alarms.json")
    for phrase in (
        "unit_assigned",
        "ACK_TIMEOUT_S",
        "escalated",
        "/v1/alarms/{alarm_id}/acknowledge",
    ):
        assert phrase in alarms
