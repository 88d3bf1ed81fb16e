"""Enforcement: campaigns (专项整治), the violations recorded under them, and check-ins at
patrol points."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from services.patrols.deps import Deps
from services.patrols.models import CheckinRequest
from services.patrols.violations import (
    Campaign,
    CampaignRequest,
    ViolationFilter,
    ViolationRequest,
)
from shared.carry import carry
from shared.errors import InvalidInput, field_error
from shared.events import (
    CampaignOpened,
    CampaignRef,
    CheckinRecorded,
    ViolationRecorded,
    stable_id,
)
from shared.geo import haversine_m
from shared.mongo import to_milliseconds


class CampaignExists(Exception):
    pass


async def create_campaign(
    *, deps: Deps, request: CampaignRequest, actor: str, now: datetime
) -> Campaign:
    unknown = [s for s in request.school_ids if deps.county.school(s) is None]
    if unknown:
        raise InvalidInput([field_error("school_ids", f"unknown schools {unknown}")])
    stamp = to_milliseconds(now)
    campaign = Campaign(**request.model_dump(), created_by=actor, created_at=stamp)
    if not await deps.repo.add_campaign(campaign):
        stored = await deps.repo.campaign(request.campaign_id)
        if stored is None or not _same_campaign(stored, request):
            raise CampaignExists(request.campaign_id)
        campaign = stored  # the same request again (a retry): published again, same event id
    await publish_campaign(deps=deps, campaign=campaign)
    return campaign


def _same_campaign(stored: Campaign, request: CampaignRequest) -> bool:
    asked = stored.model_dump(include=set(CampaignRequest.model_fields))
    return CampaignRequest.model_validate(asked) == request


async def publish_campaign(*, deps: Deps, campaign: Campaign) -> None:
    event = CampaignOpened(
        event_id=stable_id("campaign", campaign.campaign_id),
        occurred_at=campaign.created_at,
        campaign_id=campaign.campaign_id,
        name=campaign.name,
        school_ids=campaign.school_ids,
        starts_on=campaign.starts_on,
        ends_on=campaign.ends_on,
        created_by=campaign.created_by,
    )
    await deps.publisher.publish(deps.topics.patrols_campaigns, campaign.campaign_id, event)


async def republish_campaigns(*, deps: Deps) -> None:
    """Every campaign again: one stored just before a crash was maybe never published."""
    for campaign in await deps.repo.campaigns():
        await publish_campaign(deps=deps, campaign=campaign)


async def record_violation(
    *, deps: Deps, unit_id: str, request: ViolationRequest, now: datetime
) -> ViolationRecorded:
    """Check the violation against the county and the campaign, then publish it (202 follows).
    Raises InvalidInput naming each field that cannot be true."""
    errors: list[dict[str, object]] = []

    def refuse(field: str, message: str) -> None:
        errors.append(field_error(field, message))

    if request.observed_at > now + timedelta(seconds=deps.max_future_skew_s):
        refuse("observed_at", "in the future")
    if request.school_id is not None and deps.county.school(request.school_id) is None:
        refuse("school_id", f"unknown school {request.school_id}")
    campaign = await _campaign_for(deps, request, refuse)
    if errors:
        deps.metrics.violations_refused.inc()
        raise InvalidInput(errors)
    event = carry(
        ViolationRecorded,
        request,
        event_id=stable_id("violation", str(request.violation_id)),
        occurred_at=request.observed_at,
        unit_id=unit_id,
        campaign=CampaignRef(campaign_id=campaign.campaign_id, name=campaign.name)
        if campaign
        else None,
    )
    await deps.publisher.publish(deps.topics.patrols_violations, unit_id, event)
    deps.metrics.violations.labels(request.kind).inc()
    return event


async def _campaign_for(deps: Deps, request: ViolationRequest, refuse: Any) -> Campaign | None:
    if request.campaign_id is None:
        return None
    campaign = await deps.repo.campaign(request.campaign_id)
    if campaign is None:
        refuse("campaign_id", f"unknown campaign {request.campaign_id}")
        return None
    if not campaign.active_on(request.observed_at.date()):
        refuse("campaign_id", f"campaign runs {campaign.starts_on} to {campaign.ends_on}")
    if campaign.school_ids and request.school_id not in campaign.school_ids:
        refuse("school_id", "not a school of this campaign")
    return campaign


async def store_violation(*, deps: Deps, event: ViolationRecorded) -> None:
    await deps.repo.store_violation(event)


async def violations(*, deps: Deps, query: ViolationFilter) -> list[ViolationRecorded]:
    return await deps.repo.violations(query)


async def check_in(
    *, deps: Deps, unit_id: str, request: CheckinRequest, now: datetime
) -> CheckinRecorded:
    """Accept a check-in inside the point's geofence; outside it, refuse with the distance
    unless the unit insists (then it is recorded, flagged with the distance)."""
    point = deps.county.point(request.point_id)
    if point is None:
        raise InvalidInput([field_error("point_id", f"unknown patrol point {request.point_id}")])
    if request.at > now + timedelta(seconds=deps.max_future_skew_s):
        raise InvalidInput([field_error("at", "in the future")])
    distance = haversine_m(point.lat, point.lon, request.lat, request.lon)
    outside = distance > point.radius_m
    if outside and not request.insist:
        deps.metrics.checkins.labels("refused_geofence").inc()
        raise InvalidInput(
            [
                field_error(
                    "lat",
                    f"{distance - point.radius_m:.0f} m outside the {point.radius_m:.0f} m "
                    f"geofence of {point.point_id}; resend with insist=true to record it flagged",
                )
            ]
        )
    event = carry(
        CheckinRecorded,
        request,
        event_id=stable_id("checkin", str(request.checkin_id)),
        occurred_at=request.at,
        unit_id=unit_id,
        school_id=point.school_id,
        point_kind=point.kind,
        distance_m=round(distance, 1),
        flagged=outside,
    )
    await deps.publisher.publish(deps.topics.patrols_checkins, unit_id, event)
    deps.metrics.checkins.labels("flagged" if outside else "accepted").inc()
    return event


async def store_checkin(*, deps: Deps, event: CheckinRecorded) -> None:
    await deps.repo.store_checkin(event)
