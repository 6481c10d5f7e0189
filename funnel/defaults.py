"""The reason codes and pipeline stages a new installation starts with."""

REASONS = [
    ("not_in_segment", "Not in target segment", ["reject", "disqualify"]),
    ("no_budget", "No budget", ["reject", "disqualify", "lose"]),
    ("wrong_contact", "Wrong contact", ["reject", "disqualify"]),
    ("student_or_job_seeker", "Student or job seeker", ["reject", "junk"]),
    ("competitor", "Competitor", ["reject", "junk"]),
    ("duplicate", "Duplicate", ["reject", "junk"]),
    ("bad_data", "Bad data", ["reject", "junk"]),
    ("not_ready_yet", "Not ready yet", ["reject", "disqualify", "lose"]),
    ("no_need", "No need", ["reject", "disqualify", "lose"]),
    ("no_authority", "No authority", ["disqualify"]),
    ("lost_to_competitor", "Lost to a competitor", ["lose"]),
    ("no_decision", "No decision", ["lose", "disqualify"]),
    ("price", "Price too high", ["lose"]),
    ("spam", "Spam", ["junk"]),
    ("bounced", "E-mail bounced", ["junk"]),
    ("unsubscribed", "Unsubscribed", ["junk"]),
]

PIPELINE = [
    ("Discovery", "discovery", 10),
    ("Proposal", "proposal", 40),
    ("Negotiation", "negotiation", 70),
    ("Commit", "commit", 90),
]


def seed_defaults(reason_model, stage_model) -> None:
    """Create what is missing; what managers changed stays as they left it."""
    for order, (code, label, verbs) in enumerate(REASONS):
        reason_model.objects.get_or_create(
            code=code, defaults={"label": label, "applies_to": verbs, "order": order * 10}
        )
    for order, (name, slug, probability) in enumerate(PIPELINE):
        stage_model.objects.get_or_create(
            slug=slug, defaults={"name": name, "order": order * 10, "probability": probability}
        )
