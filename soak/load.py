"""The clients: asyncio tasks with httpx, each looping over a weighted mix of what people and
other systems do to Handoff at once, until the time is up.

asyncio rather than threads: 32 clients are 32 coroutines in one process, so the load
generator costs little CPU beside the server on a 2-core machine, and httpx builds the
multipart uploads and keeps the cookies the dashboard page needs.
"""

import asyncio
import concurrent.futures
import datetime as dt
import random
import re
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field

import httpx

from funnel.lifecycle import MARKETING, SYSTEM, rules_from
from leads.roles import MANAGER, MARKETER, SALES_REP

from .setup import PASSWORD, Cast

FUTURE = (dt.date.today() + dt.timedelta(days=90)).isoformat()
VERB_FIELDS = {
    "qualify": {"budget": "50k", "authority": "CFO", "need": "CRM", "timeline": "Q3"},
    "convert": {"amount": "15000", "expected_close": FUTURE},
}
REASON_FOR = {"reject": "no_budget", "disqualify": "no_budget", "lose": "no_decision"}
REASON_FOR["junk"] = "spam"
# Forward moves more often than exits, so leads travel the whole funnel in a few minutes.
VERB_WEIGHT = {"engage": 6, "accept": 6, "qualify": 5, "convert": 4, "win": 3, "recycle": 3}

LATER = ("sal", "sql", "opportunity", "nurture")

# What each kind of request may answer; anything else is a violation.
EXPECTED = {
    "transition": {201, 409},
    # Without "from" the move is checked against the stage the lead is in by then, and the
    # actor picked for the stage the client saw may no longer be allowed: 403 is right.
    "transition (no from)": {201, 403, 409},
    "transition (wrong role)": {403, 409},
    "transition (conflict)": {201, 409},
    "capture": {200, 201},
    "import upload": {202},
    "import status": {200},
    "funnel api": {200},
    "dashboard page": {200},
    "lead read": {200},
}
WEIGHTS = {
    "transition": 34,
    "transition (wrong role)": 3,
    "transition (conflict)": 6,
    "capture": 20,
    "import upload": 4,
    "import status": 3,
    "funnel api": 15,
    "dashboard page": 10,
    "lead read": 5,
}


@dataclass
class Tally:
    """Everything the clients saw: (kind, status, seconds) per request, and what they made."""

    requests: list = field(default_factory=list)
    transition_ids: set = field(default_factory=set)
    imports: dict = field(default_factory=dict)  # job id -> rows sent
    conflicts: Counter = field(default_factory=Counter)
    unexpected: list = field(default_factory=list)
    seconds: float = 0.0

    def note(self, kind: str, status, started: float, detail: str = "") -> None:
        self.requests.append((kind, status, time.perf_counter() - started))
        if status not in EXPECTED[kind]:
            self.unexpected.append(f"{kind}: {status} {detail[:300]}")


class Client:
    def __init__(self, number: int, base_url: str, cast: Cast, tally: Tally, rng: random.Random):
        self.number = number
        self.cast = cast
        self.tally = tally
        self.rng = rng
        self.http = httpx.AsyncClient(base_url=base_url, timeout=60, follow_redirects=False)
        self.page_user = rng.choice(self.cast.of_role(MANAGER) + self.cast.of_role(MARKETER))

    async def log_in(self) -> None:
        """A session for the dashboard page, through the login form as a browser does."""
        await self.http.get("/accounts/login/")
        answer = await self.http.post(
            "/accounts/login/",
            data={
                "username": self.page_user,
                "password": PASSWORD,
                "csrfmiddlewaretoken": self.http.cookies.get("csrftoken", ""),
            },
        )
        if answer.status_code != 302:
            raise RuntimeError(f"{self.page_user} could not log in: {answer.status_code}")

    def _auth(self, username: str) -> dict:
        return {"Authorization": f"Token {self.cast.tokens[username]}"}

    async def _call(self, kind: str, method: str, url: str, **kwargs) -> httpx.Response | None:
        started = time.perf_counter()
        try:
            answer = await self.http.request(method, url, **kwargs)
        except httpx.HTTPError as exc:
            self.tally.note(kind, type(exc).__name__, started, f"{method} {url}")
            return None
        self.tally.note(kind, answer.status_code, started, f"{method} {url} {answer.text}")
        return answer

    # --- the mix ----------------------------------------------------------------------------

    async def run(self, deadline: float, think: float) -> None:
        kinds, weights = zip(*WEIGHTS.items(), strict=True)
        while time.monotonic() < deadline:
            kind = self.rng.choices(kinds, weights)[0]
            await getattr(self, "do_" + re.sub(r"\W+", "_", kind).strip("_"))()
            if think:
                await asyncio.sleep(self.rng.uniform(0, 2 * think))
        await self.http.aclose()

    def _pick_lead(self, stages: tuple[str, ...] | None = None) -> int | None:
        ids = list(self.cast.leads)
        for _ in range(20):
            lead_id = self.rng.choice(ids)
            if stages is None or self.cast.leads[lead_id]["stage"] in stages:
                return lead_id
        return None

    def _actor_for(self, rule, lead: dict) -> str:
        if rule.roles & MARKETING - {SYSTEM} and self.rng.random() < 0.8:
            return self.rng.choice(self.cast.of_role(MARKETER))
        if SALES_REP in rule.roles:
            owner = lead["owner"]
            if owner in self.cast.of_role(SALES_REP) or (owner is None and self.rng.random() < 0.8):
                return owner or self.rng.choice(self.cast.of_role(SALES_REP))
        return self.cast.of_role(MANAGER)[0]

    def _body(self, rule, stage: str, *, with_from: bool = True) -> dict:
        body = {"to": rule.target, **VERB_FIELDS.get(rule.verb, {})}
        if with_from:
            body["from"] = stage
        if rule.needs_reason:
            body["reason"] = REASON_FOR[rule.verb]
        return body

    async def _refresh(self, lead_id: int) -> None:
        answer = await self._call(
            "lead read",
            "GET",
            f"/api/leads/{lead_id}/",
            headers=self._auth(self.cast.of_role(MANAGER)[0]),
        )
        if answer is not None and answer.status_code == 200:
            data = answer.json()
            self.cast.leads[lead_id].update(stage=data["stage"], owner=data["owner"])

    def _moved(self, lead_id: int, answer: httpx.Response, actor: str) -> None:
        row = answer.json()
        self.tally.transition_ids.add(row["id"])
        lead = self.cast.leads[lead_id]
        lead["stage"] = row["to"]
        if (
            row["verb"] == "accept"
            and lead["owner"] is None
            and actor in self.cast.of_role(SALES_REP)
        ):
            lead["owner"] = actor

    async def do_transition(self) -> None:
        # Half the moves on leads already down the funnel: new leads keep arriving from
        # forms and files, and would otherwise keep most moves at the top.
        later = [i for i, lead in self.cast.leads.items() if lead["stage"] in LATER]
        if later and self.rng.random() < 0.5:
            lead_id = self.rng.choice(later)
        else:
            lead_id = self._pick_lead(("suspect", "mql", "sal", "sql", "opportunity", "nurture"))
        if lead_id is None:
            return
        lead = self.cast.leads[lead_id]
        rules = rules_from(lead["stage"])
        rule = self.rng.choices(rules, [VERB_WEIGHT.get(r.verb, 1) for r in rules])[0]
        actor = self._actor_for(rule, lead)
        # Now and then without "from", as a client that does not care what it saw.
        with_from = self.rng.random() < 0.9
        answer = await self._call(
            "transition" if with_from else "transition (no from)",
            "POST",
            f"/api/leads/{lead_id}/transitions/",
            json=self._body(rule, lead["stage"], with_from=with_from),
            headers=self._auth(actor),
        )
        if answer is None:
            return
        if answer.status_code == 201:
            self._moved(lead_id, answer, actor)
        elif answer.status_code in (403, 409):
            await self._refresh(lead_id)

    async def do_transition_wrong_role(self) -> None:
        """A marketer tries a sales move, or a rep a colleague's lead: 403 (409 if it moved)."""
        lead_id = self._pick_lead(("mql", "sal", "sql", "opportunity"))
        if lead_id is None:
            return
        lead = self.cast.leads[lead_id]
        rule = next(r for r in rules_from(lead["stage"]) if SALES_REP in r.roles)
        reps = self.cast.of_role(SALES_REP)
        if lead["owner"] in reps:
            actor = self.rng.choice([r for r in reps if r != lead["owner"]])
        else:
            actor = self.rng.choice(self.cast.of_role(MARKETER))
        answer = await self._call(
            "transition (wrong role)",
            "POST",
            f"/api/leads/{lead_id}/transitions/",
            json=self._body(rule, lead["stage"]),
            headers=self._auth(actor),
        )
        if answer is not None and answer.status_code == 201:
            self._moved(lead_id, answer, actor)

    async def do_transition_conflict(self) -> None:
        """Two reps decide the same unassigned MQL at the same moment: one wins, one gets 409."""
        lead_id = self._pick_lead(("mql",))
        if lead_id is None or self.cast.leads[lead_id]["owner"] is not None:
            return
        first, second = self.rng.sample(self.cast.of_role(SALES_REP), 2)
        moves = [(first, rules_from("mql")[0]), (second, self.rng.choice(rules_from("mql")))]
        answers = await asyncio.gather(
            *(
                self._call(
                    "transition (conflict)",
                    "POST",
                    f"/api/leads/{lead_id}/transitions/",
                    json=self._body(rule, "mql"),
                    headers=self._auth(actor),
                )
                for actor, rule in moves
            )
        )
        statuses = sorted(a.status_code if a is not None else 0 for a in answers)
        self.tally.conflicts[tuple(statuses)] += 1
        if statuses == [201, 201]:
            self.tally.unexpected.append(f"lead {lead_id}: two conflicting moves both succeeded")
        for (actor, _), answer in zip(moves, answers, strict=True):
            if answer is not None and answer.status_code == 201:
                self._moved(lead_id, answer, actor)
        await self._refresh(lead_id)

    async def do_capture(self) -> None:
        slug = self.rng.choice(list(self.cast.campaigns))
        known = self.rng.random() < 0.3
        lead_id = self._pick_lead() if known else None
        email = (
            self.cast.leads[lead_id]["email"]
            if lead_id
            else f"cap-{uuid.uuid4().hex[:12]}@soak.example"
        )
        answer = await self._call(
            "capture",
            "POST",
            f"/api/capture/{slug}/",
            json={"email": email, "first_name": "Cap", "company": "Form Co", "utm_source": slug},
            headers={"X-Capture-Token": self.cast.campaigns[slug]},
        )
        if answer is not None and answer.status_code in (200, 201):
            data = answer.json()
            lead = self.cast.leads.setdefault(data["lead"], {"owner": None, "email": email})
            lead["stage"] = data["stage"]

    async def do_import_upload(self) -> None:
        """A small CSV: new people, people Handoff knows (moved forward or updated), a row
        repeated in the file, and a row that cannot be imported."""
        rows = ["email,first_name,company,stage"]
        for number in range(self.rng.randint(10, 30)):
            if self.rng.random() < 0.25:
                lead_id = self._pick_lead()
                email = self.cast.leads[lead_id]["email"]
            else:
                email = f"imp-{uuid.uuid4().hex[:12]}@soak.example"
            rows.append(f"{email},Imp{number},Import Co,{self.rng.choice(['suspect', 'mql'])}")
        rows.append(rows[1])
        rows.append("not-an-email,Broken,Import Co,mql")
        slug = self.rng.choice(list(self.cast.campaigns))
        answer = await self._call(
            "import upload",
            "POST",
            "/api/imports/",
            files={"file": ("soak.csv", "\n".join(rows) + "\n", "text/csv")},
            data={"campaign": slug},
            headers=self._auth(self.rng.choice(self.cast.of_role(MARKETER))),
        )
        if answer is not None and answer.status_code == 202:
            self.tally.imports[answer.json()["id"]] = len(rows) - 1

    async def do_import_status(self) -> None:
        if not self.tally.imports:
            return
        job_id = self.rng.choice(list(self.tally.imports))
        await self._call(
            "import status",
            "GET",
            f"/api/imports/{job_id}/",
            headers=self._auth(self.cast.of_role(MARKETER)[0]),
        )

    async def do_funnel_api(self) -> None:
        params = self.rng.choice(
            [
                {},
                {"campaign": self.rng.choice(list(self.cast.campaigns))},
                {"since": (dt.date.today() - dt.timedelta(days=7)).isoformat()},
                {"owner": "me"},
            ]
        )
        user = self.rng.choice(list(self.cast.tokens))
        await self._call(
            "funnel api", "GET", "/api/funnel/", params=params, headers=self._auth(user)
        )

    async def do_dashboard_page(self) -> None:
        await self._call("dashboard page", "GET", "/dashboard/")

    async def do_lead_read(self) -> None:
        lead_id = self._pick_lead()
        await self._refresh(lead_id)


async def _run(base_url: str, cast: Cast, clients: int, seconds: float, think: float, seed: int):
    tally = Tally()
    rng = random.Random(seed)
    crowd = [
        Client(number, base_url, cast, tally, random.Random(rng.random()))
        for number in range(clients)
    ]
    await asyncio.gather(*(client.log_in() for client in crowd))
    started = time.monotonic()
    await asyncio.gather(*(client.run(started + seconds, think) for client in crowd))
    tally.seconds = time.monotonic() - started
    return tally


def load_run(
    *, base_url: str, cast: Cast, clients: int, seconds: float, think: float = 0.02, seed: int = 8
) -> Tally:
    # In a thread of its own: the caller may have an event loop running already (the test
    # suite's Playwright browser does), and asyncio.run refuses to nest.
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(
            asyncio.run, _run(base_url, cast, clients, seconds, think, seed)
        ).result()
