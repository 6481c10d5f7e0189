"""Acceptance criteria an MQL is checked against.

The rule engine and the managers' page come with the sales workspace; until then
no criteria are defined and every lead's list is empty.
"""

from leads.models import Lead


def criteria_results(lead: Lead) -> list[dict]:
    """Each criterion as {"name", "passed", "required", "detail"}."""
    return []
