"""The dashboards' tables as header + rows, for the CSV downloads (the pages show the same
numbers from the same dicts)."""

from leads.stages import FORWARD_PATH


def _percent(rate):
    return "" if rate is None else f"{round(rate * 100, 1)}%"


def stages_table(numbers):
    rows = [(bucket.upper(), "bucket", n) for bucket, n in numbers["buckets"]]
    rows += [(stage, "stage", n) for stage, n in numbers["stages"]]
    return ["name", "kind", "leads now"], rows


def funnel_table(numbers):
    return (
        ["stage", "reached", "conversion from previous", "drop-off", "median days to reach"],
        [
            (
                row["stage"],
                row["reached"],
                _percent(row["conversion"]),
                row["drop_off"],
                row["days_to"],
            )
            for row in numbers["path"]
        ],
    )


def velocity_table(numbers):
    return (
        ["stage", "median days to reach", "median days in stage", "stays ended"],
        [(r["stage"], r["days_to"], r["days_in"], r["stays"]) for r in numbers["velocity"]],
    )


def handoff_table(numbers):
    handoff = numbers["handoff"]
    return (
        ["measure", "value"],
        [
            ("MQLs waiting", handoff["waiting"]),
            (f"waiting over {handoff['sla_hours']} h (SLA breaches)", handoff["breaches"]),
            ("MQL decisions", handoff["decided"]),
            (f"decided after {handoff['sla_hours']} h", handoff["decided_late"]),
            ("median hours to decision", handoff["median_hours_to_decision"]),
            ("accepted", handoff["accepts"]),
            ("rejected", handoff["rejects"]),
            ("acceptance rate", _percent(handoff["acceptance_rate"])),
        ],
    )


def nurture_table(numbers):
    nurture = numbers["nurture"]
    return (
        ["measure", "leads"],
        [
            ("in nurture now", nurture["in_nurture"]),
            ("ever enrolled", nurture["enrolled"]),
            ("recycled back to MQL", nurture["recycled"]),
            ("unsubscribed", nurture["unsubscribed"]),
        ],
    )


def trends_table(trends):
    return (
        [f"{trends['per']} starting", *FORWARD_PATH],
        [
            (period["start"].isoformat(), *(period["counts"][s] for s in FORWARD_PATH))
            for period in trends["periods"]
        ],
    )


def scoreboard_table(board):
    headers = [
        "campaign",
        "slug",
        "leads",
        "MQLs",
        "accepted",
        "rejected",
        "acceptance rate",
        "rejection reasons",
        "SQLs",
        "opportunities",
        "customers",
        "won amount",
        "budget",
        "cost per MQL",
        "cost per SQL",
        "cost per customer",
    ]
    rows = [
        (
            row["name"],
            row["slug"],
            row["leads"],
            row["mqls"],
            row["accepts"],
            row["rejects"],
            _percent(row["acceptance_rate"]),
            "; ".join(f"{code}: {n}" for code, n in row["reasons"].items()),
            row["sqls"],
            row["opportunities"],
            row["customers"],
            row["won_amount"],
            row["budget"],
            row["cost_per_mql"],
            row["cost_per_sql"],
            row["cost_per_customer"],
        )
        for row in board
    ]
    return headers, rows


def leads_table(facts):
    rows = []
    for fact in facts:
        lead = fact.lead
        rows.append(
            (
                lead.pk,
                f"{lead.first_name} {lead.last_name}".strip(),
                lead.email,
                lead.external_id,
                lead.company,
                lead.source,
                lead.stage,
                lead.owner.get_username() if lead.owner_id else "",
                fact.entered_on.isoformat(),
            )
        )
    return (
        ["id", "name", "email", "external id", "company", "source", "stage", "owner", "entered"],
        rows,
    )
