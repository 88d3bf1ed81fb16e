"""An alarm in the formats other systems read: OASIS CAP 1.2 and NENA EIDO, each validated
against its published schema before it is answered."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import JSONResponse, Response

from services.alarms import exchange_service
from services.alarms.api import DepsDep, Reader
from services.alarms.deps import Deps
from shared.events import AlarmLifecycle
from shared.exchange import cap

router = APIRouter(tags=["exchange"])

EventId = Annotated[
    uuid.UUID | None,
    Query(description="One lifecycle event of the alarm (its timeline); default: the latest"),
]
RESPONSES: dict[int | str, dict[str, str]] = {
    404: {"description": "no such alarm, or no such event in its timeline"},
}


@router.get(
    "/v1/alarms/{alarm_id}/cap",
    response_class=Response,
    summary="The alarm as an OASIS CAP 1.2 message (XML)",
    description="One message per lifecycle event: `Alert` when raised, `Update` as it moves on "
    "(assignment, escalation, arrival, resolution with responseType AllClear), `Cancel` when "
    "cancelled; each Update or Cancel references every earlier message of the alarm. `status` "
    "is `Actual`, `Test` for a test alarm or `Exercise` for a drill; `scope` is `Restricted`; "
    "the area is a circle of EXCHANGE_AREA_RADIUS_M around the school; times carry the "
    "county's offset. Validated against the OASIS schema before it is answered.",
    responses=RESPONSES | {200: {"content": {cap.MEDIA_TYPE: {}}}},
)
async def get_cap(
    alarm_id: uuid.UUID, deps: DepsDep, _: Reader, event_id: EventId = None
) -> Response:
    event, earlier = await _history(deps, alarm_id, event_id)
    xml = exchange_service.cap_message(deps=deps, event=event, earlier=earlier)
    return Response(xml, media_type=cap.MEDIA_TYPE)


@router.get(
    "/v1/alarms/{alarm_id}/eido",
    summary="The alarm as a NENA EIDO (JSON)",
    description="The incident, the school's location (PIDF-LO point and the spot in words), "
    "the button as the alarm/sensor component, the bureau as the owning agency, the assigned "
    "unit as an emergency resource with its dispatch, and the timeline as notes. No person, "
    "organization or vehicle components. Validated against NENA's schema before it is "
    "answered.",
    responses=RESPONSES,
)
async def get_eido(
    alarm_id: uuid.UUID, deps: DepsDep, _: Reader, event_id: EventId = None
) -> JSONResponse:
    event, earlier = await _history(deps, alarm_id, event_id)
    return JSONResponse(exchange_service.eido_document(deps=deps, event=event, earlier=earlier))


async def _history(
    deps: Deps, alarm_id: uuid.UUID, event_id: uuid.UUID | None
) -> tuple[AlarmLifecycle, list[AlarmLifecycle]]:
    found = await exchange_service.history(deps=deps, alarm_id=alarm_id, event_id=event_id)
    if found is None:
        raise HTTPException(404, "no such alarm or event")
    return found
