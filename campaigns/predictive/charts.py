"""The model page's SVG charts, geometry computed here (no inline style or script: the CSP
forbids them; colours are SVG attributes)."""

SIZE = 260
PAD = 36


def calibration_chart(curve: list[dict]) -> dict:
    """Predicted against observed rate per bin, with the diagonal a perfect model would follow."""

    def xy(predicted: float, observed: float) -> tuple[float, float]:
        return (round(PAD + predicted * SIZE, 1), round(PAD + (1 - observed) * SIZE, 1))

    points = []
    for row in curve:
        x, y = xy(row["predicted"], row["observed"])
        points.append(
            {
                "x": x,
                "y": y,
                "r": 3 + min(6, row["leads"] ** 0.5 / 10),
                "label": (
                    f"predicted {round(row['predicted'] * 100)}%, "
                    f"observed {round(row['observed'] * 100)}% ({row['leads']} leads)"
                ),
            }
        )
    ticks = [
        {"value": f"{t}%", "x": PAD + t / 100 * SIZE, "y": PAD + (1 - t / 100) * SIZE}
        for t in (0, 25, 50, 75, 100)
    ]
    return {
        "width": SIZE + 2 * PAD,
        "height": SIZE + 2 * PAD,
        "x0": PAD,
        "y0": PAD + SIZE,
        "x1": PAD + SIZE,
        "y1": PAD,
        "line": " ".join(f"{p['x']},{p['y']}" for p in points),
        "points": points,
        "ticks": ticks,
        "axis_y": PAD + SIZE + 16,
        "label_y": PAD + SIZE + 32,
    }


LIFT_BAR = 34
LIFT_HEIGHT = 200


def lift_chart(lift: list[dict]) -> dict:
    top = max((d["lift"] for d in lift), default=1) or 1
    bars = []
    for i, d in enumerate(lift):
        height = max(1.0, LIFT_HEIGHT * d["lift"] / top)
        x = PAD + i * (LIFT_BAR + 6)
        bars.append(
            {
                "x": x,
                "y": round(PAD + LIFT_HEIGHT - height, 1),
                "width": LIFT_BAR,
                "height": round(height, 1),
                "center": x + LIFT_BAR / 2,
                "value": f"{d['lift']:.1f}\u00d7",  # the multiplication sign
                "value_y": round(PAD + LIFT_HEIGHT - height - 4, 1),
                "decile": d["decile"],
                "rate": round(d["rate"] * 100),
            }
        )
    one = round(PAD + LIFT_HEIGHT - LIFT_HEIGHT / top, 1)
    return {
        "width": PAD * 2 + len(lift) * (LIFT_BAR + 6),
        "height": LIFT_HEIGHT + PAD + 40,
        "bars": bars,
        "baseline_y": one,
        "x0": PAD,
        "x1": PAD + len(lift) * (LIFT_BAR + 6),
        "label_y": PAD + LIFT_HEIGHT + 16,
    }
