"""Server-rendered SVG charts: geometry computed here, drawn by templates, numbers written
on the chart so it reads without JavaScript or colour."""

FUNNEL_WIDTH = 640
FUNNEL_LABEL = 130
FUNNEL_ROW = 46


def funnel_chart(path: list[dict]) -> dict:
    """One centred bar per stage, its width in proportion to the leads that reached it."""
    top = max((row["reached"] for row in path), default=0) or 1
    room = FUNNEL_WIDTH - FUNNEL_LABEL - 10
    bars = []
    for index, row in enumerate(path):
        width = max(2.0, room * row["reached"] / top)
        x = FUNNEL_LABEL + (room - width) / 2
        y = index * FUNNEL_ROW + 4
        conversion = row["conversion"]
        bars.append(
            {
                "stage": row["stage"],
                "reached": row["reached"],
                "x": round(x, 1),
                "y": y,
                "width": round(width, 1),
                "height": FUNNEL_ROW - 10,
                "text_x": FUNNEL_LABEL + room / 2,
                "text_y": y + (FUNNEL_ROW - 10) / 2 + 5,
                "label_y": y + (FUNNEL_ROW - 10) / 2 + 5,
                "note": (
                    f"{round(conversion * 100, 1)}% of {path[index - 1]['stage'].upper()}"
                    if conversion is not None
                    else ""
                ),
            }
        )
    return {
        "width": FUNNEL_WIDTH + 200,
        "height": len(path) * FUNNEL_ROW + 8,
        "note_x": FUNNEL_WIDTH + 4,
        "bars": bars,
    }


TREND_HEIGHT = 90
TREND_BAR = 34


def trend_charts(trends: dict, stages) -> list[dict]:
    """Small multiples: one bar chart per stage, one bar per week or month."""
    periods = trends["periods"]
    charts = []
    for stage in stages:
        values = [period["counts"][stage] for period in periods]
        top = max(values, default=0) or 1
        bars = []
        for index, (period, value) in enumerate(zip(periods, values, strict=True)):
            height = round(TREND_HEIGHT * value / top, 1)
            x = index * (TREND_BAR + 6) + 4
            bars.append(
                {
                    "x": x,
                    "y": 20 + TREND_HEIGHT - height,
                    "width": TREND_BAR,
                    "height": height,
                    "value": value,
                    "value_y": 20 + TREND_HEIGHT - height - 4,
                    "center": x + TREND_BAR / 2,
                    "label": period["start"].strftime(
                        "%d %b" if trends["per"] == "week" else "%b %y"
                    ),
                }
            )
        charts.append(
            {
                "stage": stage,
                "total": sum(values),
                "width": max(1, len(periods)) * (TREND_BAR + 6) + 8,
                "height": TREND_HEIGHT + 42,
                "label_y": TREND_HEIGHT + 36,
                "bars": bars,
            }
        )
    return charts
