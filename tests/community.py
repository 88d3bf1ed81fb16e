"""What community-check tests send: valid resident identity numbers and a check near S001."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from services.patrols.personal import id_check_character


def resident_id(serial: int) -> str:
    """A valid identity number (right check character): region 620522, born 1990-01-01."""
    first17 = f"62052219900101{serial % 1000:03d}"
    return first17 + id_check_character(first17)


def check_body(**fields: Any) -> dict[str, Any]:
    """A rental flat about 100 m north of S001 (会师镇第1小学), with two tenants, one of them
    unregistered, and an issue reported as a hazard."""
    return {
        "check_id": str(uuid.uuid4()),
        "premises_kind": "rental_housing",
        "address": "会师镇东街12号3单元",
        "lat": 35.672538,
        "lon": 105.043398,
        "at": (datetime.now(UTC) - timedelta(minutes=10)).isoformat(),
        "checked": ["tenant_register", "fire_safety"],
        "failed": ["tenant_register"],
        "people": [
            {
                "role": "tenant",
                "name": "王小明",
                "id_number": resident_id(11),
                "phone": "13800001234",
                "registered": True,
            },
            {
                "role": "tenant",
                "name": "李四",
                "id_number": resident_id(12),
                "registered": False,
                "newly_arrived": True,
            },
        ],
        "issues": [
            {"kind": "fire_safety", "description": "楼道堆放电动车充电", "hazard": True},
            {"kind": "other", "description": "房东未签治安责任书"},
        ],
    } | fields
