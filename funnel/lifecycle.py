"""The lifecycle as data: every allowed transition, who may make it, and what it needs.

`funnel.services.transition_lead` refuses anything this table does not list.
"""

from dataclasses import dataclass

from leads.roles import MANAGER, MARKETER, SALES_REP
from leads.stages import Stage

SYSTEM = "system"  # a rule or job acting on its own, never a person


@dataclass(frozen=True)
class Rule:
    source: str
    target: str
    verb: str
    roles: frozenset[str]
    needs: tuple[str, ...] = ()
    label: str = ""

    @property
    def needs_reason(self) -> bool:
        return "reason" in self.needs

    @property
    def is_sales(self) -> bool:
        return SALES_REP in self.roles


MARKETING = frozenset({MARKETER, SYSTEM})
SALES = frozenset({SALES_REP, MANAGER})
MARKETING_OR_MANAGER = frozenset({MARKETER, MANAGER})
BANT = ("budget", "authority", "need", "timeline")

RULES: tuple[Rule, ...] = (
    Rule(Stage.SUSPECT, Stage.MQL, "engage", MARKETING | {MANAGER}, label="Engage"),
    Rule(Stage.MQL, Stage.SAL, "accept", SALES, label="Accept"),
    Rule(Stage.MQL, Stage.NURTURE, "reject", SALES, ("reason",), label="Reject"),
    Rule(Stage.MQL, Stage.JUNK, "junk", SALES, ("reason",), label="Junk"),
    Rule(Stage.SAL, Stage.SQL, "qualify", SALES, BANT, label="Qualify"),
    Rule(Stage.SAL, Stage.NURTURE, "disqualify", SALES, ("reason",), label="Disqualify"),
    Rule(
        Stage.SQL,
        Stage.OPPORTUNITY,
        "convert",
        SALES,
        ("amount", "expected_close"),
        label="Convert",
    ),
    Rule(Stage.SQL, Stage.NURTURE, "disqualify", SALES, ("reason",), label="Disqualify"),
    Rule(Stage.OPPORTUNITY, Stage.CUSTOMER, "win", SALES, label="Won"),
    Rule(Stage.OPPORTUNITY, Stage.NURTURE, "lose", SALES, ("reason",), label="Lost"),
    Rule(Stage.NURTURE, Stage.MQL, "recycle", MARKETING | {MANAGER}, label="Recycle"),
    Rule(Stage.SUSPECT, Stage.JUNK, "junk", MARKETING_OR_MANAGER, ("reason",), label="Junk"),
    Rule(Stage.NURTURE, Stage.JUNK, "junk", MARKETING_OR_MANAGER, ("reason",), label="Junk"),
)

RULE_BY_MOVE: dict[tuple[str, str], Rule] = {(rule.source, rule.target): rule for rule in RULES}
VERBS: tuple[str, ...] = tuple(dict.fromkeys(rule.verb for rule in RULES))
REASON_VERBS: tuple[str, ...] = tuple(dict.fromkeys(r.verb for r in RULES if r.needs_reason))

# Stages a lead may enter the funnel in when it is created by hand or through the API.
ENTRY_STAGES = (Stage.SUSPECT, Stage.MQL)


def rule_for(source: str, target: str) -> Rule | None:
    return RULE_BY_MOVE.get((source, target))


def rules_from(source: str) -> list[Rule]:
    return [rule for rule in RULES if rule.source == source]
