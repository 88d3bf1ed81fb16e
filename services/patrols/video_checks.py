"""Video patrol checks (视频巡查): what the command centre saw on a school's gate camera at a
moment, and the record of it. The reports compare it with the guard post's GPS verdict."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict, Field

from services.patrols.deps import Deps
from shared.errors import InvalidInput, field_error
from shared.events import Traffic, VideoCheckRecorded, stable_id
from shared.inputs import Moment


class VideoCheckRequest(BaseModel):
    """Body of `POST /v1/video-checks`."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    check_id: uuid.UUID = Field(..., description="Made by the client; send it again to retry")
    school_id: str = Field(..., min_length=1, max_length=64)
    post_id: str | None = Field(
        None, max_length=64, description="The school's guard post (its stop point), if in view"
    )
    at: Moment = Field(..., description="The moment the video shows")
    officer_on_post: bool | None = Field(
        None, description="Required with post_id: whether an officer was on it"
    )
    traffic: Traffic
    patrol_seen: bool
    snapshot: str | None = Field(None, max_length=500, description="Reference to the frame")
    note: str | None = Field(None, max_length=1000)


async def record(
    *, deps: Deps, request: VideoCheckRequest, actor: str, now: datetime
) -> VideoCheckRecorded:
    """Checked against the county, then published (202 follows). InvalidInput names each
    field that cannot be true."""
    errors: list[dict[str, object]] = []
    school = deps.county.school(request.school_id)
    if school is None:
        errors.append(field_error("school_id", f"unknown school {request.school_id}"))
    if request.post_id is not None:
        point = deps.county.point(request.post_id)
        if point is None or point.kind != "stop" or point.school_id != request.school_id:
            errors.append(field_error("post_id", "not this school's guard post (its stop point)"))
        if request.officer_on_post is None:
            errors.append(field_error("officer_on_post", "required when a post is in view"))
    elif request.officer_on_post is not None:
        errors.append(field_error("officer_on_post", "only with a post_id"))
    if request.at > now + timedelta(seconds=deps.max_future_skew_s):
        errors.append(field_error("at", "in the future"))
    if errors or school is None:
        raise InvalidInput(errors)
    event = VideoCheckRecorded(
        event_id=stable_id("video-check", str(request.check_id)),
        occurred_at=request.at,
        check_id=request.check_id,
        school=school.ref(),
        post_id=request.post_id,
        at=request.at,
        officer_on_post=request.officer_on_post,
        traffic=request.traffic,
        patrol_seen=request.patrol_seen,
        snapshot=request.snapshot,
        note=request.note,
        checked_by=actor,
    )
    await deps.publisher.publish(deps.topics.patrols_video_checks, school.school_id, event)
    return event
