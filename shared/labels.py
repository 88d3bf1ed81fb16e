"""What people read for every value the system keys: one catalogue in Simplified Chinese (the
default) and English, used by every page, chart and CSV. `tests/unit/test_labels.py` holds it
to every enum of the events, the commands and the provisioning file, and to every column a
report's CSV has; a key it does not know (a value added later) is shown as itself.

`GET /v1/labels?lang=` (`labels_router`) gives the pages the catalogue in one language."""

from __future__ import annotations

from typing import Annotated, Literal, get_args

from fastapi import APIRouter, Query

Lang = Literal["zh", "en"]
DEFAULT_LANG: Lang = "zh"
LANGS: tuple[Lang, ...] = get_args(Lang)
LangQuery = Annotated[Lang, Query(description="zh: Simplified Chinese (the default); en: English")]

_OTHER = ("其他", "Other")

# vocabulary → key → (zh, en)
CATALOGUE: dict[str, dict[str, tuple[str, str]]] = {
    "alarm_kind": {
        "intrusion": ("非法闯入", "Intrusion"),
        "violence": ("暴力侵害", "Violence"),
        "fire": ("火情", "Fire"),
        "medical": ("医疗急救", "Medical"),
        "other": _OTHER,
    },
    "alarm_state": {
        "raised": ("已报警", "Raised"),
        "dispatched": ("已派单", "Dispatched"),
        "acknowledged": ("已接警", "Acknowledged"),
        "unit_assigned": ("已派警", "Unit assigned"),
        "en_route": ("出警途中", "En route"),
        "on_scene": ("已到场", "On scene"),
        "resolved": ("已处置", "Resolved"),
        "cancelled": ("已撤销", "Cancelled"),
        "escalated": ("已升级", "Escalated"),
    },
    "resolve_outcome": {
        "handled": ("处置完毕", "Handled"),
        "arrest": ("抓获嫌疑人", "Arrest"),
        "medical_aid": ("医疗救助", "Medical aid"),
        "fire_service": ("移交消防", "Fire service"),
        "no_action": ("无需处置", "No action"),
        "other": _OTHER,
    },
    "cancel_outcome": {
        "false_alarm": ("误报", "False alarm"),
        "test": ("测试", "Test"),
        "drill": ("演练", "Drill"),
        "duplicate": ("重复报警", "Duplicate"),
        "other": _OTHER,
    },
    "escalation_reason": {
        "no_acknowledgement": ("无人接警", "Not acknowledged"),
        "no_unit_on_scene": ("警力未到场", "No unit on scene"),
        "no_unit_in_range": ("附近无可派警力", "No unit in range"),
    },
    "command_action": {
        "dispatch": ("派单", "Dispatch"),
        "acknowledge": ("接警", "Acknowledge"),
        "assign": ("派警", "Assign"),
        "en_route": ("出警", "En route"),
        "on_scene": ("到场", "On scene"),
        "resolve": ("处置完毕", "Resolve"),
        "cancel": ("撤销", "Cancel"),
        "escalate": ("升级", "Escalate"),
    },
    "command_status": {
        "applied": ("已执行", "Applied"),
        "refused": ("被拒绝", "Refused"),
        "forbidden": ("无权限", "Forbidden"),
        "pending": ("待执行", "Pending"),
    },
    "response_interval": {
        "press_to_acknowledged": ("报警至接警", "Press to acknowledged"),
        "press_to_unit_assigned": ("报警至派警", "Press to unit assigned"),
        "press_to_on_scene": ("报警至到场", "Press to on scene"),
        "press_to_resolved": ("报警至处置完毕", "Press to resolved"),
    },
    "unit_status": {
        "available": ("待命", "Available"),
        "busy": ("忙碌", "Busy"),
        "en_route": ("出警途中", "En route"),
        "on_scene": ("已到场", "On scene"),
        "on_post": ("在岗", "On post"),
        "off_duty": ("下班", "Off duty"),
    },
    "unit_kind": {
        "patrol_car": ("巡逻车", "Patrol car"),
        "foot_patrol": ("步巡", "Foot patrol"),
        "traffic_police": ("交警", "Traffic police"),
        "station_officer": ("派出所民警", "Station officer"),
        "guard_post": ("护学岗", "Guard post"),
    },
    "point_kind": {
        "must_reach": ("必到点", "Must reach"),
        "must_patrol": ("必巡点", "Must patrol"),
        "stop": ("停留点", "Stop"),
    },
    "guard_window": {
        "morning": ("早高峰", "Morning"),
        "noon": ("午高峰", "Noon"),
        "afternoon": ("晚高峰", "Afternoon"),
    },
    "guard_state": {
        "staffed": ("按时到岗", "Staffed"),
        "late": ("迟到", "Late"),
        "empty": ("空岗", "Empty"),
    },
    "visit_end": {
        "left": ("离开", "Left"),
        "gap": ("信号中断", "Gap"),
        "silent": ("无位置上报", "Silent"),
    },
    "violation_kind": {
        "speeding": ("超速", "Speeding"),
        "overloading": ("超员", "Overloading"),
        "unlicensed_vehicle_carrying_students": (
            "无资质车辆接送学生",
            "Unlicensed vehicle carrying students",
        ),
        "illegal_parking": ("违法停车", "Illegal parking"),
        "street_vending_blocking_road": ("占道经营", "Street vending blocking the road"),
        "illegal_passenger_carrying": ("非法载客", "Illegal passenger carrying"),
        "other": _OTHER,
    },
    "activity_kind": {
        "inspection": ("安全检查", "Inspection"),
        "drill": ("应急演练", "Drill"),
        "session": ("宣传教育", "Session"),
        "letters": ("致家长信", "Letters to parents"),
    },
    "inspection_item": {
        "alarm_buttons": ("一键报警装置", "Alarm buttons"),
        "fire_safety": ("消防安全", "Fire safety"),
        "cctv": ("视频监控", "CCTV"),
        "evacuation_routes": ("疏散通道", "Evacuation routes"),
        "visitor_registration": ("外来人员登记", "Visitor registration"),
        "guards": ("专职保安", "Guards"),
    },
    "defence": {
        "human": ("人防", "Human"),
        "physical": ("物防", "Physical"),
        "technical": ("技防", "Technical"),
    },
    "outreach_topic": {
        "legal_education": ("法治教育", "Legal education"),
        "traffic_safety": ("交通安全", "Traffic safety"),
        "anti_bullying": ("防欺凌", "Anti-bullying"),
        "anti_fraud": ("防诈骗", "Anti-fraud"),
        "drug_prevention": ("禁毒", "Drug prevention"),
        "food_safety": ("食品安全", "Food safety"),
        "fire_safety": ("消防安全", "Fire safety"),
        "other": _OTHER,
    },
    "drill_scenario": {
        "intruder": ("防暴", "Intruder"),
        "fire": ("消防", "Fire"),
        "earthquake": ("防震", "Earthquake"),
        "evacuation": ("疏散", "Evacuation"),
        "other": _OTHER,
    },
    "trouble_kind": {
        "offline": ("离线", "Offline"),
        "battery_low": ("电量低", "Battery low"),
        "tamper": ("防拆报警", "Tamper"),
    },
    "trouble_status": {
        "raised": ("故障", "Raised"),
        "repeated": ("仍故障", "Repeated"),
        "restored": ("已恢复", "Restored"),
    },
    "power_source": {
        "battery": ("电池", "Battery"),
        "mains": ("市电", "Mains"),
    },
    "delivery_state": {
        "queued": ("待发送", "Queued"),
        "sent": ("已发送", "Sent"),
        "delivered": ("已送达", "Delivered"),
        "acknowledged": ("已确认", "Acknowledged"),
        "failed": ("发送失败", "Failed"),
        "expired": ("已过期", "Expired"),
    },
    "delivery_channel": {
        "unit_stream": ("警力终端", "Unit terminal"),
        "dispatcher_stream": ("指挥台", "Dispatcher console"),
        "webhook": ("对接系统", "Webhook"),
        "sms": ("短信", "SMS"),
    },
    "role": {
        "dispatcher": ("调度员", "Dispatcher"),
        "unit": ("巡逻警力", "Unit"),
        "supervisor": ("督导", "Supervisor"),
        "admin": ("管理员", "Admin"),
    },
    "campaign": {  # the name a report gives violations outside any campaign
        "(no campaign)": ("（无专项行动）", "(no campaign)"),
    },
    "yes_no": {
        "true": ("是", "Yes"),
        "false": ("否", "No"),
    },
    "alarm_end": {  # a report's outcome column: `open` while neither resolved nor cancelled
        "open": ("未结", "Open"),
    },
    "column": {  # a report's CSV and table headers, by field
        "school_id": ("学校编号", "School ID"),
        "name": ("名称", "Name"),
        "township": ("乡镇", "Township"),
        "alarms": ("真实报警", "Real alarms"),
        "tests": ("测试与演练", "Tests and drills"),
        "interval": ("时段", "Interval"),
        "missing": ("未达到", "Not reached"),
        "p50_s": ("中位数（秒）", "p50 (s)"),
        "p90_s": ("90分位（秒）", "p90 (s)"),
        "p99_s": ("99分位（秒）", "p99 (s)"),
        "max_s": ("最长（秒）", "Max (s)"),
        "kind": ("类别", "Kind"),
        "outcome": ("结果", "Outcome"),
        "window": ("时段", "Window"),
        "windows": ("岗次", "Windows"),
        "staffed": ("按时到岗", "Staffed"),
        "late": ("迟到", "Late"),
        "empty": ("空岗", "Empty"),
        "staffing_rate": ("到岗率", "Staffing rate"),
        "gap_days": ("空岗日期", "Days empty"),
        "points": ("巡逻点", "Patrol points"),
        "points_visited": ("已到点", "Points visited"),
        "checkins": ("打卡", "Check-ins"),
        "flagged": ("异常打卡", "Flagged check-ins"),
        "visits": ("途经", "Visits"),
        "dwell_s": ("停留（秒）", "Dwell (s)"),
        "days_visited": ("巡到天数", "Days visited"),
        "covered": ("全覆盖", "Covered"),
        "campaign_id": ("专项行动编号", "Campaign ID"),
        "campaign": ("专项行动", "Campaign"),
        "violations": ("违法行为", "Violations"),
        "item": ("检查项", "Item"),
        "defence": ("三防", "Defence"),
        "checked": ("检查次数", "Checked"),
        "passed": ("合格", "Passed"),
        "pass_rate": ("合格率", "Pass rate"),
        "topic": ("主题", "Topic"),
        "sessions": ("宣传场次", "Sessions"),
        "audience": ("受众人次", "Audience"),
        "letters": ("致家长信", "Letters"),
        "since": ("起", "From"),
        "until": ("止", "Until"),
        "press_to_acknowledged_p50_s": ("接警用时中位数（秒）", "Press to acknowledged p50 (s)"),
        "press_to_on_scene_p50_s": ("到场用时中位数（秒）", "Press to on scene p50 (s)"),
        "campaigns": ("专项行动", "Campaigns"),
        "schools_reached": ("宣传覆盖学校", "Schools reached"),
        "drills": ("应急演练", "Drills"),
        "inspections": ("安全检查", "Inspections"),
        "three_defences_rate": ("三防达标率", "Three defences met"),
        "guard_post_windows": ("护学岗岗次", "Guard-post windows"),
        "guard_post_staffing_rate": ("护学岗到岗率", "Guard-post staffing rate"),
        "schools_covered": ("巡逻全覆盖学校", "Schools covered"),
        "schools": ("学校数", "Schools"),
        "sentence": ("概述", "Summary"),
        "devices": ("报警按钮", "Buttons"),
        "offline": ("离线", "Offline"),
        "battery_low": ("电量低", "Battery low"),
        "tamper": ("防拆报警", "Tamper"),
        "offline_hours": ("离线时长（按钮·小时）", "Button-hours offline"),
        "availability": ("在线率", "Availability"),
        "in_trouble_at_end": ("期末仍故障", "In trouble at the end"),
    },
}

_INDEX = {lang: i for i, lang in enumerate(LANGS)}


def label(vocabulary: str, key: str, lang: Lang = DEFAULT_LANG) -> str:
    """The key in people's words; the key itself when the catalogue does not know it."""
    entry = CATALOGUE[vocabulary].get(key)
    return key if entry is None else entry[_INDEX[lang]]


def outcome(value: str, lang: Lang = DEFAULT_LANG) -> str:
    """A report's outcome column: `resolved:<outcome>`, `cancelled:<outcome>` or `open`."""
    state, _, reason = value.partition(":")
    if not reason:
        return label("alarm_end", value, lang)
    vocabulary = "resolve_outcome" if state == "resolved" else "cancel_outcome"
    colon = "：" if lang == "zh" else ": "
    return f"{label('alarm_state', state, lang)}{colon}{label(vocabulary, reason, lang)}"


def catalogue(lang: Lang) -> dict[str, dict[str, str]]:
    """Every vocabulary in one language."""
    i = _INDEX[lang]
    return {name: {key: pair[i] for key, pair in keys.items()} for name, keys in CATALOGUE.items()}


labels_router = APIRouter(tags=["pages"])


@labels_router.get(
    "/v1/labels",
    summary="Every label the pages show, in one language",
    description="Vocabulary → key → label. Keys are the values the API and the events carry.",
)
async def get_labels(lang: LangQuery = DEFAULT_LANG) -> dict[str, dict[str, str]]:
    return catalogue(lang)
