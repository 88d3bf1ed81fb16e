"""What people read for every value the system keys: one catalogue in Simplified Chinese (the
default) and English, used by every page, chart and CSV. `tests/unit/test_labels.py` holds it
to every enum of the events, the commands and the provisioning file, and to every column a
report's CSV has; a key it does not know (a value added later) is shown as itself.

`GET /v1/labels?lang=` (`labels_router`) gives the pages the catalogue in one language, and
`/labels.js` the script that applies it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal, get_args

from fastapi import APIRouter, Query
from fastapi.responses import FileResponse

Lang = Literal["zh", "en"]
DEFAULT_LANG: Lang = "zh"
LANGS: tuple[Lang, ...] = get_args(Lang)
LangQuery = Annotated[Lang, Query(description="zh: Simplified Chinese (the default); en: English")]

LABELS_SCRIPT = Path(__file__).parent / "static" / "labels.js"
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
        "resolve": ("结警", "Resolve"),
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
        "press_to_resolved": ("报警至结警", "Press to resolved"),
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
        "special_patrol": ("特巡警", "Special patrol police"),
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
    "traffic": {
        "smooth": ("通行顺畅", "Smooth"),
        "congested": ("拥堵", "Congested"),
        "blocked": ("堵塞", "Blocked"),
    },
    "hazard_kind": {
        "traffic": ("交通安全隐患", "Traffic"),
        "street_vending": ("占道经营", "Street vending"),
        "unlicensed_business": ("无证经营", "Unlicensed business"),
        "food_safety": ("食品安全", "Food safety"),
        "fire_safety": ("消防安全", "Fire safety"),
        "building": ("校舍围墙", "Buildings and walls"),
        "public_order": ("治安隐患", "Public order"),
        "other": _OTHER,
    },
    "hazard_source": {
        "inspection": ("安全检查", "Inspection"),
        "patrol": ("巡逻", "Patrol"),
        "video_check": ("视频巡查", "Video check"),
    },
    "hazard_state": {
        "open": ("待交办", "Open"),
        "assigned": ("整改中", "Assigned"),
        "overdue": ("已超期", "Overdue"),
        "rectified": ("已整改", "Rectified"),
        "verified": ("已验收", "Verified"),
    },
    "hazard_change": {
        "reported": ("发现上报", "Reported"),
        "assigned": ("交办", "Assigned"),
        "overdue": ("超期", "Overdue"),
        "rectified": ("整改完成", "Rectified"),
        "verified": ("验收通过", "Verified"),
        "rejected": ("验收未通过", "Sent back"),
    },
    "premises_kind": {
        "rental_housing": ("出租房屋", "Rental housing"),
        "hotel": ("旅馆", "Hotel"),
    },
    "check_item": {
        "tenant_register": ("租住人员登记", "Tenants registered"),
        "guest_register": ("旅客住宿登记", "Guests registered"),
        "identity_verified": ("实名核验", "Identities verified"),
        "landlord_agreement": ("治安责任书", "Landlord's agreement"),
        "fire_safety": ("消防安全", "Fire safety"),
        "security_measures": ("技防物防", "Security measures"),
    },
    "person_role": {
        "tenant": ("租住人员", "Tenant"),
        "guest": ("旅客", "Guest"),
        "landlord": ("房东", "Landlord"),
        "manager": ("经营者", "Manager"),
        "other": _OTHER,
    },
    "department": {
        "police_station": ("派出所", "Police station"),
        "traffic_police": ("交警", "Traffic police"),
        "health": ("卫生健康", "Health"),
        "market_regulation": ("市场监管", "Market regulation"),
        "education": ("教育", "Education"),
        "street_office": ("街道乡镇", "Street office"),
        "fire_rescue": ("消防救援", "Fire and rescue"),
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
        "school": ("学校门卫", "School gate"),
    },
    "patrol_mode": {
        "vehicle": ("车巡", "Vehicle patrol"),
        "foot": ("步巡", "Foot patrol"),
        "special": ("特巡警", "Special patrol police"),
    },
    "visit_purpose": {
        "parent": ("家长", "Parent"),
        "delivery": ("送货", "Delivery"),
        "contractor": ("施工维修", "Contractor"),
        "official": ("公务", "Official business"),
        "visitor": ("来访", "Visitor"),
        "other": _OTHER,
    },
    "visit_change": {
        "arrived": ("进校", "Arrived"),
        "after_hours": ("放学后未离校", "Still inside after hours"),
        "left": ("离校", "Left"),
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
    "page": {  # the pages' own words: templates filled in with str.format
        "reports": ("统计报表", "reports"),
        "dashboard": ("数据看板", "dashboard"),
        "printable_report": ("打印报表", "printable report"),
        "user": ("用户名", "User"),
        "password": ("密码", "Password"),
        "sign_in": ("登录", "Sign in"),
        "sign_out": ("退出", "Sign out"),
        "signed_out": ("已退出", "signed out"),
        "sign_in_again": ("登录已失效，请重新登录", "signed out: sign in again"),
        "wrong_password": ("用户名或密码错误", "wrong user or password"),
        "too_many": (
            "密码错误次数过多，请{seconds}秒后再试",
            "too many wrong passwords: try again in {seconds} s",
        ),
        "not_allowed_reports": ("无权查看报表", "not allowed to read reports"),
        "refused": ("请求被拒绝（{status}）：{detail}", "refused ({status}): {detail}"),
        "since_day": ("起始日期", "From"),
        "until_day": ("截止日期（不含）", "Until (exclusive)"),
        "township": ("乡镇", "Township"),
        "all": ("全部", "all"),
        "show": ("查询", "Show"),
        "print": ("打印", "Print"),
        "language": ("语言", "Language"),
        "nothing": ("本期无数据", "nothing in this period"),
        "trend_weeks": ("（{weeks}周）", " ({weeks} weeks)"),
        "trends_by_township": (
            "学校较多：每周趋势、对比表和报警分布图请选择一个乡镇查看",
            "Many schools: choose a township to see the weekly trends, the side-by-side table "
            "and the map of alarms",
        ),
        "trend_alarms": ("每周真实报警", "Real alarms per week"),
        "trend_response": ("每周响应用时（秒）", "Response times per week (s)"),
        "trend_staffing": ("每周护学岗按时到岗率", "Guard posts on time per week"),
        "trend_visibility": ("每周高峰见警率", "Police seen at rush hours per week"),
        "trend_violations": ("每周违法行为", "Violations per week"),
        "side_by_side": ("对比（点击表头排序）", "Side by side (click a heading to sort)"),
        "sort": ("点击排序", "click to sort"),
        "alarm_map": (
            "各学校真实报警（圆越大，报警越多）",
            "Real alarms by school (the bigger, the more)",
        ),
        "school_in": ("{school}（{township}）", "{school} ({township})"),
        "c_title": ("指挥调度台", "dispatcher"),
        "c_chime": ("提示音", "Chime"),
        "c_no_sound": (
            "无法播放提示音：请留意新警情",
            "no sound could be played: watch for new alarms",
        ),
        "c_keys": (
            "快捷键：↑↓ 选择警情，A 接警，S 派出所选警力，Enter 详情，Esc 关闭",
            "Keys: ↑↓ choose an alarm, A acknowledge, S assign the chosen unit, Enter details, "
            "Esc close",
        ),
        "c_detail": ("警情详情", "Alarm details"),
        "c_close": ("关闭", "Close"),
        "c_pressed": ("按下报警", "pressed"),
        "c_by": ("（{actor}）", " ({actor})"),
        "c_units_panel": ("警力状态", "Units"),
        "c_fix_age": ("{status}，定位于{age}前", "{status}, fix {age} ago"),
        "c_offline": ("未连接", "offline"),
        "c_live": ("实时", "live"),
        "c_reconnecting": ("重连中…", "reconnecting…"),
        "c_open": ("未结警情{n}起", "{n} open"),
        "c_age": ("时长", "age"),
        "c_state": ("状态", "state"),
        "c_kind": ("类别", "kind"),
        "c_severity": ("级别", "severity"),
        "c_school": ("学校", "school"),
        "c_spot": ("位置", "spot"),
        "c_units": ("推荐警力", "recommended units"),
        "c_actions": ("操作", "actions"),
        "c_map": ("学校、警力与警情分布图", "map of schools, units and alarms"),
        "c_legend_school": ("● 学校", "● school"),
        "c_legend_alarm": ("● 警情", "● alarm"),
        "c_legend_available": ("■ 待命", "■ available"),
        "c_legend_on_post": ("■ 在岗", "■ on post"),
        "c_legend_other": ("■ 其他", "■ other"),
        "c_gaps": ("护学岗空岗", "Guard posts empty now"),
        "c_troubles": ("报警按钮故障", "Buttons in trouble"),
        "c_none": ("无", "none"),
        "video_bulletin": ("视频巡查通报", "video check bulletin"),
        "vb_summary": (
            "视频巡查{checks}次：护学岗未见警{absent}次，拥堵{congested}次，堵塞{blocked}次，"
            "见巡逻{patrols}次；视频与定位不符{disagreements}次",
            "{checks} video checks: {absent} posts without an officer, {congested} congested, "
            "{blocked} blocked, {patrols} with a patrol in view; {disagreements} where video and "
            "GPS disagree",
        ),
        "c_plan": ("一校一策（第{version}版）", "School plan (version {version})"),
        "c_no_plan": ("该校尚无一校一策预案", "No plan for this school yet"),
        "c_risks": ("风险：{risks}", "Risks: {risks}"),
        "c_contact": ("{role}{name}：{phone}", "{role}{name}: {phone}"),
        "c_gate": ("校门：{notes}", "Gates: {notes}"),
        "c_buildings": ("楼宇：{notes}", "Buildings: {notes}"),
        "c_plan_refs": ("预案文件：{refs}", "Plan documents: {refs}"),
        "c_mute": ("重复报警静音", "Mute repeats"),
        "c_unmute": ("取消静音", "Unmute repeats"),
        "c_unit_distance": ("{unit} {m}米", "{unit} {m} m"),
        "c_guard_post": ("（护学岗）", " (guard post)"),
        "c_none_in_range": ("附近无可派警力", "none in range"),
        "c_widened": ("（搜索半径已扩大至{km}公里）", " (radius widened to {km} km)"),
        "c_presses": ("（按下{n}次）", " ({n} presses)"),
        "c_test": ("（测试）", " (test)"),
        "c_silent": (" · 静默", " · silent"),
        "c_spot_text": ("{building} {floor}层 {room}", "{building} {floor}F {room}"),
        "c_passed_over": ("{unit}未接单：{next}", "{unit} did not acknowledge: {next}"),
        "c_told": ("已改派{unit}", "told {unit}"),
        "c_nobody_left": ("无其他警力可派", "nobody left to tell"),
        "c_gap": (
            "{school}（{township}）：{post}号岗，{window}，{unit}未到岗",
            "{school} ({township}): post {post}, {window} window, {unit} not there",
        ),
        "c_away": ("（距离{m}米）", " ({m} m away)"),
        "c_trouble": (
            "{school}（{township}）：报警按钮{device}{kind}，自{since}起",
            "{school} ({township}): button {device} {kind} since {since}",
        ),
        "c_battery": ("，电量{pct}%", ", battery {pct}%"),
        "c_announced": ("（已通报{n}次）", " (announced {n}×)"),
        "c_seconds": ("{n}秒", "{n} s"),
        "c_minutes": ("{n}分钟", "{n} min"),
        "c_applied": ("{action}：已执行", "{action}: applied"),
        "c_refused": ("{action}被拒绝：{reason}", "{action} refused: {reason}"),
        "c_retrying": (
            "{action}：暂无响应，重试中（{attempt}/{tries}）",
            "{action}: no answer yet, trying again ({attempt}/{tries})",
        ),
        "c_sent": ("{action}：已发送", "{action}: sent"),
        "c_no_outcome": (
            "{action}：已发送，尚无结果（报警服务可能中断）",
            "{action}: sent, no outcome yet (the alarms service may be down)",
        ),
        "c_no_answer": (
            "{action}：无响应，请先核实警情再操作",
            "{action}: no answer; check the alarm before clicking again",
        ),
        "c_refused_status": (
            "{action}被拒绝（{status}）：{detail}",
            "{action} refused ({status}): {detail}",
        ),
        "c_reloading": (
            "实时数据流已重启，正在重新加载",
            "the live stream restarted: reloading the feed",
        ),
        "not_a_dispatcher": ("非调度人员，无权使用", "not a dispatcher"),
        "all_time": ("全部时间", "all time"),
        "from_to": ("{since}至{until}", "{since} to {until}"),
        "from": ("{since}起", "from {since}"),
        "until": ("截至{until}", "until {until}"),
        "seconds": ("{value}秒", "{value} s"),
        "of": ("{part}/{whole}", "{part} of {whole}"),
        "rate_of": ("{rate}，共{n}岗次", "{rate} of {n}"),
        "per_township": ("（按乡镇）", ", per township"),
        "sentence": (
            "开展专项行动{campaigns}次，查处违法行为{violations}起，宣传覆盖学校{schools_reached}"
            "所，开展宣传{sessions}场，发放致家长信{letters}份",
            "{campaigns} campaigns, {violations} violations, {schools_reached} schools, "
            "{sessions} sessions, {letters} letters",
        ),
        "chart_response": (
            "报警至各环节用时中位数（真实报警；{tests}次测试与演练未计入）",
            "Press → state, p50 (real alarms; {tests} tests and drills left out)",
        ),
        "chart_alarms": ("真实报警（按类别）", "Real alarms by kind"),
        "chart_violations": (
            "违法行为（按类别；{campaigns}次专项行动，共{total}起）",
            "Violations by kind ({total} in {campaigns} campaigns)",
        ),
        "chart_guard_posts": (
            "护学岗按时到岗率（按时段）",
            "Guard posts staffed on time, by window",
        ),
        "chart_inspections": (
            "检查项合格率（{inspections}次检查）",
            "Inspection items passed ({inspections} inspections)",
        ),
        "chart_outreach": ("宣传场次（按主题）", "Outreach sessions by topic"),
        "tile_alarms": ("真实报警", "Real alarms"),
        "tile_ack": ("接警用时中位数", "Press → acknowledged, p50"),
        "tile_campaigns": ("专项行动", "Campaigns"),
        "tile_violations": ("违法行为", "Violations"),
        "tile_schools_reached": ("宣传覆盖学校", "Schools reached"),
        "tile_sessions": ("宣传场次", "Sessions"),
        "tile_letters": ("致家长信", "Letters to parents"),
        "tile_three_defences": ("三防达标率", "Three defences met"),
        "tile_staffing": ("护学岗按时到岗率", "Guard posts on time"),
        "tile_visibility": ("高峰见警率", "Police seen at rush hours"),
        "tile_covered": ("巡逻全覆盖学校", "Schools covered"),
        "t_response": (
            "响应用时，真实报警（{tests}次测试与演练未计入）",
            "Response times, real alarms ({tests} tests and drills left out)",
        ),
        "t_alarms": ("报警（按类别与结果）", "Alarms by kind and outcome"),
        "t_violations": (
            "违法行为：{campaigns}次专项行动，共{total}起",
            "Violations: {total} in {campaigns} campaigns",
        ),
        "t_campaigns": ("专项行动：{campaigns}次", "Campaigns: {campaigns}"),
        "t_guard_posts": ("护学岗", "Guard posts"),
        "t_inspections": (
            "安全检查：{inspections}次，涉及{schools}所学校，三防达标率{rate}",
            "Inspections: {inspections} at {schools} schools, three defences met in {rate}",
        ),
        "t_outreach": (
            "宣传教育：覆盖{schools}所学校，应急演练{drills}次（{people}人次）",
            "Outreach: {schools} schools, {drills} drills ({people} people)",
        ),
        "t_coverage": (
            "巡逻覆盖：{covered}/{schools}所学校全覆盖",
            "Patrol coverage: {covered} of {schools} schools covered",
        ),
        "t_devices": (
            "报警按钮，{period}：离线{offline}次，电量低{battery_low}次，防拆报警{tamper}次",
            "Panic buttons, {period}: {offline} offline, {battery_low} battery low, "
            "{tamper} tampered",
        ),
        "u_title": ("警务终端", "unit terminal"),
        "u_not_unit": (
            "此页面仅供执勤警力（单位编号）登录",
            "this page is for units on duty (sign in with the unit's id)",
        ),
        "u_online": ("在线", "online"),
        "u_offline": ("离线：操作将在恢复连接后发送", "offline: actions are sent once back"),
        "u_queue": ("待发送{n}项", "{n} waiting to send"),
        "u_order": ("当前指令", "Current order"),
        "u_no_order": ("暂无指令", "No order"),
        "u_silent": ("无声报警：请勿鸣笛，隐蔽接近", "Silent alarm: no sirens, approach unseen"),
        "u_spot": ("{building} {floor}层 {room}", "{building}, floor {floor}, room {room}"),
        "u_distance_m": ("距离{m}米", "{m} m away"),
        "u_distance_km": ("距离{km}公里", "{km} km away"),
        "u_accept_by": ("请在{s}秒内接受", "Accept within {s} s"),
        "u_accept": ("接受", "Accept"),
        "u_en_route": ("出发", "En route"),
        "u_on_scene": ("到场", "On scene"),
        "u_resolve": ("处置完毕", "Resolve"),
        "u_outcome": ("处置结果", "Outcome"),
        "u_expired": ("指令已失效：{reason}", "Order no longer stands: {reason}"),
        "u_alarm_state": ("警情状态：{state}", "Alarm: {state}"),
        "u_sent": ("已发送：{what}", "Sent: {what}"),
        "u_queued": ("已排队：{what}", "Queued: {what}"),
        "u_refused": ("{what}被拒绝：{reason}", "{what} refused: {reason}"),
        "u_duty": ("今日护学岗", "Guard duty today"),
        "u_no_duty": ("今日无护学岗", "No guard duty today"),
        "u_pending": ("待判定", "Pending"),
        "u_points": ("附近巡逻点", "Patrol points nearby"),
        "u_no_position": ("尚未获得定位", "No position yet"),
        "u_no_points": ("附近无巡逻点", "No patrol points nearby"),
        "u_checkin": ("签到", "Check in"),
        "u_insist": ("仍要签到（将标记）", "Check in anyway (flagged)"),
        "u_violation": ("记录违法行为", "Record a violation"),
        "u_kind": ("类别", "Kind"),
        "u_plate": ("车牌号", "Plate"),
        "u_photo": ("照片编号", "Photo reference"),
        "u_school": ("学校", "School"),
        "u_no_school": ("不涉及学校", "no school"),
        "u_notes": ("备注", "Notes"),
        "u_officer": ("民警警号", "Officer's number"),
        "u_record": ("提交", "Record"),
        "u_status": ("我的状态", "My status"),
        "u_set_status": ("更新", "Set"),
        "u_position": ("定位：{lat}, {lon}（±{acc}米）", "Position: {lat}, {lon} (±{acc} m)"),
        "u_positions": ("位置上报", "position report"),
    },
    "column": {  # a report's CSV and table headers, by field
        "department": ("责任部门", "Department"),
        "at": ("时间", "Time"),
        "school_name": ("学校", "School"),
        "post_id": ("护学岗", "Guard post"),
        "officer_on_post": ("视频见警", "Officer seen on post"),
        "gps_on_post": ("定位在岗", "On post by GPS"),
        "disagrees": ("视频与定位不符", "Video and GPS disagree"),
        "traffic": ("交通状况", "Traffic"),
        "patrol_seen": ("见巡逻", "Patrol seen"),
        "snapshot": ("截图", "Snapshot"),
        "note": ("备注", "Note"),
        "checked_by": ("巡查人", "Checked by"),
        "found": ("发现隐患", "Found"),
        "assigned": ("已交办", "Assigned"),
        "open": ("待交办", "Not assigned"),
        "rectified_on_time": ("按期整改", "Rectified on time"),
        "rectified_late": ("逾期整改", "Rectified late"),
        "overdue": ("超期未改", "Overdue"),
        "verified": ("已验收", "Verified"),
        "visitors": ("来访人次", "Visitors"),
        "school_windows": ("高峰时段（校次）", "School rush-hour windows"),
        "seen": ("见警", "Police seen"),
        "visibility_rate": ("见警率", "Police visibility"),
        "minutes_present": ("在场分钟", "Minutes present"),
        "presence_rate": ("在场率", "Presence rate"),
        "vehicle": ("车巡", "Vehicle patrol"),
        "foot": ("步巡", "Foot patrol"),
        "special": ("特巡警", "Special patrol police"),
        "still_inside": ("未离校", "Still inside"),
        "after_hours": ("放学后未离校", "Inside after hours"),
        "stay_p50_min": ("停留时长中位数（分钟）", "Median stay (min)"),
        "checks": ("检查次数", "Checks"),
        "rental_housing": ("出租房屋", "Rental housing"),
        "hotels": ("旅馆", "Hotels"),
        "people": ("登记人员", "People recorded"),
        "unregistered": ("未登记人员", "Unregistered"),
        "newly_arrived": ("新到人员", "Newly arrived"),
        "items_failed": ("不合格项", "Items not met"),
        "issues": ("发现问题", "Issues"),
        "hazards": ("转隐患", "Reported as hazards"),
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
        "week": ("周（起始日）", "Week of"),
        "press_to_acknowledged_p90_s": ("接警用时90分位（秒）", "Press to acknowledged p90 (s)"),
        "press_to_on_scene_p90_s": ("到场用时90分位（秒）", "Press to on scene p90 (s)"),
        "school": ("学校", "School"),  # the printed tables' own columns from here
        "dwell_min": ("停留（分钟）", "Minutes"),
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


@dataclass(frozen=True)
class Words:
    """The catalogue in one language, as a page writes with it."""

    lang: Lang = DEFAULT_LANG

    def __call__(self, text: str, **values: object) -> str:
        """One of the pages' own texts, filled in."""
        return label("page", text, self.lang).format(**values)

    def of(self, vocabulary: str, key: str) -> str:
        return label(vocabulary, key, self.lang)


DEFAULT_WORDS = Words()


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


@labels_router.get("/labels.js", include_in_schema=False)
async def labels_script() -> FileResponse:
    """The pages' language logic, one copy for every page."""
    return FileResponse(LABELS_SCRIPT, media_type="text/javascript; charset=utf-8")
