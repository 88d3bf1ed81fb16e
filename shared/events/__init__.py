"""Events on the bus (DESIGN §3). Contract: change only by adding optional fields.

One module per part of the system (base, alarms, devices, patrols, activities, deliveries); every
event and value is importable from here, as it always was.
"""

from shared.events.activities import (
    INSPECTION_ITEMS,
    THREE_DEFENCES,
    ActivityDetails,
    ActivityKind,
    ActivityRecorded,
    Drill,
    Inspection,
    InspectionItem,
    Letters,
    OutreachTopic,
    Session,
)
from shared.events.alarms import (
    AlarmCommand,
    AlarmKind,
    AlarmLifecycle,
    AlarmPressed,
    AlarmState,
    CommandAction,
    CommandResolved,
    NearbyUnit,
)
from shared.events.base import NAMESPACE, DeadLetter, Event, Location, SchoolRef, stable_id, utcnow
from shared.events.community import (
    CheckItem,
    CommunityCheckRecorded,
    PersonRole,
    PremisesKind,
)
from shared.events.deliveries import DeliveryChanged, DeliveryChannel, DeliveryState
from shared.events.devices import DeviceTrouble, PowerSource, TroubleKind, TroubleStatus
from shared.events.hazards import HazardChanged
from shared.events.patrols import (
    DISPATCHABLE,
    CampaignOpened,
    CampaignRef,
    CheckinRecorded,
    GuardPostWindow,
    Place,
    PointVisited,
    PositionReported,
    Traffic,
    UnitStatus,
    UnitStatusChanged,
    VideoCheckRecorded,
    ViolationKind,
    ViolationRecorded,
    newest_per_unit,
)
from shared.events.schools import PlanContact, PlanContent, SchoolPlanChanged
from shared.events.visibility import PatrolMode, SchoolWindowPatrolled, UnitSeen
from shared.events.visitors import GateVisitChanged, VisitChange, VisitPurpose

__all__ = [
    "DISPATCHABLE",
    "INSPECTION_ITEMS",
    "NAMESPACE",
    "THREE_DEFENCES",
    "ActivityDetails",
    "ActivityKind",
    "ActivityRecorded",
    "AlarmCommand",
    "AlarmKind",
    "AlarmLifecycle",
    "AlarmPressed",
    "AlarmState",
    "CampaignOpened",
    "CampaignRef",
    "CheckItem",
    "CheckinRecorded",
    "CommandAction",
    "CommandResolved",
    "CommunityCheckRecorded",
    "DeadLetter",
    "DeliveryChanged",
    "DeliveryChannel",
    "DeliveryState",
    "DeviceTrouble",
    "Drill",
    "Event",
    "GateVisitChanged",
    "GuardPostWindow",
    "HazardChanged",
    "Inspection",
    "InspectionItem",
    "Letters",
    "Location",
    "NearbyUnit",
    "OutreachTopic",
    "PatrolMode",
    "PersonRole",
    "Place",
    "PlanContact",
    "PlanContent",
    "PointVisited",
    "PositionReported",
    "PowerSource",
    "PremisesKind",
    "SchoolPlanChanged",
    "SchoolRef",
    "SchoolWindowPatrolled",
    "Session",
    "Traffic",
    "TroubleKind",
    "TroubleStatus",
    "UnitSeen",
    "UnitStatus",
    "UnitStatusChanged",
    "VideoCheckRecorded",
    "ViolationKind",
    "ViolationRecorded",
    "VisitChange",
    "VisitPurpose",
    "newest_per_unit",
    "stable_id",
    "utcnow",
]
