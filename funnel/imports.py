"""Bulk, forward-only stage writes for lead imports.

Only `funnel` writes a lead's stage. A CSV import (campaigns.imports) hands this module
its rows, already cleaned and merged per identity, and this module creates the new leads,
fills the existing ones, moves leads forward (never backwards) and writes ONE log row per
lead and import: from "" for a new lead (the row the cohort funnel reads as "entered"), or
from the stage the lead was in. A lead imported straight into a late stage has that stage
as the furthest in its log, so it counts for every stage before it.

Two paths with the same semantics:
- PostgreSQL: `leads_import_merge` works set-wise on a temporary table the caller filled
  (see `BATCH_COLUMNS`), sorted by identity, with `IS DISTINCT FROM` so that a row that
  did not change is not rewritten.
- Any database: `leads_import_records` does the same with the ORM, batch by batch.

No `stage_changed` per lead (an import of a million rows would fire a million nurture or
scoring reactions for history); `leads_imported` is sent once per batch on commit.
"""

import datetime as dt
import json
from dataclasses import dataclass
from functools import partial

from django.db import IntegrityError, connection, transaction
from django.dispatch import Signal
from psycopg import sql

from leads.fields import IMPORT_FILL_FIELDS, TEXT_FIELDS, TOUCH_IMPORT_FIELDS
from leads.models import Lead
from leads.stages import Stage

from .import_stories import IMPORT_VERB, IMPORTED, DealOwners, Story, tell_stories
from .models import Transition

__all__ = ["IMPORTED", "IMPORT_VERB", "DealOwners", "Story"]

# Sent on commit after each batch of an import, with keyword arguments:
# created (list of lead ids), moved (list of lead ids) and system_actor.
leads_imported = Signal()
# The same, sent inside the batch's transaction before it commits: for work that must
# commit with the batch or not at all (a task message in the outbox).
leads_importing = Signal()


# The order an import moves leads in: a lead moves to a stage later in this tuple, never to
# an earlier one. The forward path first; a lost deal (nurture) and junk after it; a won
# customer is final. Duplicate rows of one lead in a file keep the latest stage in it.
IMPORT_ORDER: tuple[str, ...] = (
    Stage.SUSPECT,
    Stage.MQL,
    Stage.SAL,
    Stage.SQL,
    Stage.OPPORTUNITY,
    Stage.NURTURE,
    Stage.JUNK,
    Stage.CUSTOMER,
)
IMPORT_RANK = {str(stage): rank for rank, stage in enumerate(IMPORT_ORDER)}

# Lead fields an import may fill (identity fields only on new leads); TEXT_FIELDS is re-exported
# for the import engine.
FILL_FIELDS = IMPORT_FILL_FIELDS

# The temporary table `leads_import_merge` reads: one row per identity (merged already).
BATCH_COLUMNS = (
    ("ident", 'text COLLATE "C" NOT NULL'),
    ("line", "integer NOT NULL"),
    ("rows", "integer NOT NULL"),
    ("email", "text"),
    ("external_id", "text"),
    *((name, "text") for name in TEXT_FIELDS),
    ("company_size", "integer"),
    ("do_not_email", "boolean"),
    ("attributes", "jsonb"),
    # The touch of the lead's membership in the import's campaign (not lead fields).
    *((name, "text") for name in TOUCH_IMPORT_FIELDS),
    ("stage", "text NOT NULL"),
    ("stage_at", "timestamptz"),
    ("lead_id", "bigint"),
    ("old_stage", "text"),
    ("changed", "boolean NOT NULL DEFAULT false"),
    ("lost", "boolean NOT NULL DEFAULT false"),
    # The row's story (see `story_rows`), or NULL for a plain move: one log row, no deal.
    ("story", "jsonb"),
    # Why the row may not be written (the uploader's authority), with `lost`.
    ("refusal", "text"),
)

# Stages an import by someone who is not a manager may move an EXISTING lead to: marketing's
# own. Sales stages of existing leads are sales' decisions (accept, qualify, convert, win,
# lose); an import by a manager or an admin may write them.
MARKETING_TARGETS = (Stage.SUSPECT, Stage.MQL)


def authority_refusal(old_stage: str, stage: str) -> str:
    return (
        f"This row would move an existing lead from {old_stage} to {stage}; an import by a "
        "marketer moves existing leads up to MQL only (sales stages are sales' decisions): "
        "ask a manager to import it."
    )


def moves_forward(current: str, target: str) -> bool:
    return IMPORT_RANK[target] > IMPORT_RANK[current]


@dataclass
class MergeCounts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    moved: int = 0


def _send_on_commit(created: list[int], moved: list[int], system_actor: str) -> None:
    if created or moved:
        leads_importing.send(
            sender=Transition, created=created, moved=moved, system_actor=system_actor
        )
        transaction.on_commit(
            partial(
                leads_imported.send,
                sender=Transition,
                created=created,
                moved=moved,
                system_actor=system_actor,
            )
        )


# --- PostgreSQL ---------------------------------------------------------------------------


_NOTHING = sql.SQL("")


def new_leads_table(table: str) -> str:
    """The temporary table `leads_import_merge` fills with (id, ident) of the leads it created."""
    return f"{table}_new"


def leads_import_merge(
    *,
    table: str,
    fields: tuple[str, ...],
    on_duplicate: str,
    system_actor: str,
    campaign_id: int | None,
    now: dt.datetime,
    resolved: bool = False,
    limit_existing: bool = False,
    owners: "DealOwners | None" = None,
) -> MergeCounts:
    """Merge the batch in `table` (columns BATCH_COLUMNS) into the leads, in the caller's
    transaction (`resolved`: the caller filled `lead_id` and `old_stage` of the rows whose
    lead exists already). Existing leads get `lead_id` (and `changed` when written); the leads it
    creates are listed in `new_leads_table(table)`, not written back into the batch (a
    rewrite of every row); a row it could not import is marked `lost` (its external id
    belongs to another lead of the batch)."""
    assert connection.vendor == "postgresql"
    lead = sql.Identifier(Lead._meta.db_table)
    log = sql.Identifier(Transition._meta.db_table)
    batch = sql.Identifier(table)
    created_table = sql.Identifier(new_leads_table(table))
    params = {"now": now, "actor": system_actor[:150], "campaign": campaign_id}
    fills = [f for f in fields if f in FILL_FIELDS]
    with connection.cursor() as cursor:
        # Statistics on the one join column: the joins below pick index lookups for a batch.
        cursor.execute(sql.SQL("ANALYZE {} (lead_id)").format(batch))

        def resolve(extra: sql.Composable = _NOTHING):
            for column in ("email", "external_id"):
                cursor.execute(
                    sql.SQL(
                        "UPDATE {b} SET lead_id = l.id, old_stage = l.stage FROM {lead} l"
                        " WHERE {b}.lead_id IS NULL AND NOT {b}.lost AND {b}.{c} IS NOT NULL"
                        " AND l.{c} = {b}.{c}{extra}"
                    ).format(b=batch, lead=lead, c=sql.Identifier(column), extra=extra)
                )

        if not resolved:
            resolve()
        if limit_existing and on_duplicate == "update":
            # (With `skip` an existing lead is left as it is: nothing to refuse.)
            cursor.execute(
                sql.SQL(
                    "UPDATE {b} SET lost = true, lead_id = NULL, refusal = 'This row would move"
                    " an existing lead from ' || old_stage || ' to ' || stage || '; an import by"
                    " a marketer moves existing leads up to MQL only (sales stages are sales''"
                    " decisions): ask a manager to import it.'"
                    " WHERE lead_id IS NOT NULL AND NOT (stage = ANY(%(allowed)s))"
                    " AND array_position(%(order)s::text[], stage)"
                    " > array_position(%(order)s::text[], old_stage)"
                ).format(b=batch),
                {"allowed": list(MARKETING_TARGETS), "order": list(IMPORT_ORDER)},
            )
        cursor.execute(
            sql.SQL("SELECT EXISTS (SELECT 1 FROM {} WHERE story IS NOT NULL)").format(batch)
        )
        has_stories = cursor.fetchone()[0]
        cursor.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(created_table))
        cursor.execute(
            sql.SQL(
                'CREATE TEMPORARY TABLE {} (id bigint, ident text COLLATE "C") ON COMMIT DROP'
            ).format(created_table)
        )
        text_values = sql.SQL(", ").join(
            sql.SQL("coalesce({f}, '')").format(f=sql.Identifier(f)) for f in TEXT_FIELDS
        )
        text_names = sql.SQL(", ").join(sql.Identifier(f) for f in TEXT_FIELDS)
        # New leads, their first log row and their ids, in one statement; sorted by identity
        # so the unique e-mail index is filled in order.
        insert_new = sql.SQL(
            "WITH ins AS ("
            " INSERT INTO {lead} (email, external_id, {names}, company_size,"
            " do_not_email, attributes, stage, stage_changed_at, score, created_at,"
            " updated_at)"
            " SELECT email, external_id, {values}, company_size,"
            " coalesce(do_not_email, false), coalesce(attributes, '{{}}'::jsonb), stage,"
            " coalesce(stage_at, %(now)s), 0, %(now)s, %(now)s"
            " FROM {b} WHERE lead_id IS NULL AND NOT lost ORDER BY ident{conflict}"
            " RETURNING id, email, external_id, stage, stage_changed_at),"
            " logged AS ("
            " INSERT INTO {log} (lead_id, from_stage, to_stage, verb, actor_id,"
            " system_actor, at, reason_id, note, campaign_id, data)"
            " SELECT id, '', stage, %(verb)s, NULL, %(actor)s, stage_changed_at, NULL, '',"
            " %(campaign)s, '{{}}'::jsonb FROM ins{untold} ORDER BY id)"
            " INSERT INTO {new} (id, ident)"
            " SELECT id, CASE WHEN email IS NOT NULL THEN 'e:' || email"
            " ELSE 'x:' || external_id END FROM ins"
        )
        parts = {
            "lead": lead,
            "names": text_names,
            "values": text_values,
            "b": batch,
            "log": log,
            "new": created_table,
            # A row with a story gets its log rows from `tell_stories`.
            "untold": _NOTHING
            if not has_stories
            else sql.SQL(
                " WHERE NOT EXISTS (SELECT 1 FROM {b} t WHERE t.story IS NOT NULL AND t.ident ="
                " CASE WHEN ins.email IS NOT NULL THEN 'e:' || ins.email"
                " ELSE 'x:' || ins.external_id END)"
            ).format(b=batch),
        }
        try:
            # A plain insert first: ON CONFLICT's speculative insertion (a probe of every
            # unique index before each row, then a confirmation) doubles its cost, and a
            # conflict is rare (a concurrent import, or two rows sharing an external id).
            with transaction.atomic():
                cursor.execute(
                    insert_new.format(**parts, conflict=_NOTHING), {**params, "verb": IMPORT_VERB}
                )
        except IntegrityError:
            cursor.execute(
                insert_new.format(**parts, conflict=sql.SQL(" ON CONFLICT DO NOTHING")),
                {**params, "verb": IMPORT_VERB},
            )
        created = cursor.rowcount
        cursor.execute(
            sql.SQL("SELECT count(*) FROM {} WHERE lead_id IS NULL AND NOT lost").format(batch)
        )
        if cursor.fetchone()[0] > created:
            # Lost a race, or shares an external id with another row's new lead: find the
            # lead it belongs to; what is left cannot be imported.
            cursor.execute(sql.SQL("CREATE INDEX ON {} (ident)").format(created_table))
            not_created = sql.SQL(
                " AND NOT EXISTS (SELECT 1 FROM {n} WHERE {n}.ident = {b}.ident)"
            ).format(n=created_table, b=batch)
            resolve(not_created)
            cursor.execute(
                sql.SQL("UPDATE {b} SET lost = true WHERE lead_id IS NULL{extra}").format(
                    b=batch, extra=not_created
                )
            )

        moved_ids: list[int] = []
        cursor.execute(
            sql.SQL("SELECT EXISTS (SELECT 1 FROM {} WHERE lead_id IS NOT NULL)").format(batch)
        )
        if on_duplicate == "update" and cursor.fetchone()[0]:
            moved_ids = _update_existing(cursor, batch, lead, log, fills, params)

        cursor.execute(sql.SQL("SELECT id FROM {}").format(created_table))
        created_ids = [row[0] for row in cursor.fetchall()]
        if has_stories:
            cursor.execute(
                sql.SQL(
                    "SELECT n.id, '', b.stage, coalesce(b.stage_at, %(now)s), b.story FROM {n} n"
                    " JOIN {b} b ON b.ident = n.ident WHERE b.story IS NOT NULL"
                    " UNION ALL SELECT b.lead_id, b.old_stage, l.stage, l.stage_changed_at, b.story"
                    " FROM {b} b JOIN {lead} l ON l.id = b.lead_id"
                    " WHERE b.changed AND b.story IS NOT NULL AND l.stage <> b.old_stage"
                ).format(n=created_table, b=batch, lead=lead),
                params,
            )
            # Django reads jsonb as text from a raw cursor.
            stories = [
                Story(*row[:4], json.loads(row[4]) if isinstance(row[4], str) else row[4])
                for row in cursor.fetchall()
            ]
            if stories:
                tell_stories(
                    stories,
                    system_actor=system_actor,
                    campaign_id=campaign_id,
                    now=now,
                    owners=owners or DealOwners({}),
                )
        cursor.execute(
            sql.SQL(
                "SELECT count(*) FILTER (WHERE changed),"
                " count(*) FILTER (WHERE lead_id IS NOT NULL AND NOT changed)"
                " FROM {b}"
            ).format(b=batch)
        )
        updated, unchanged = cursor.fetchone()
    _send_on_commit(created_ids, moved_ids, system_actor)
    return MergeCounts(created=created, updated=updated, unchanged=unchanged, moved=len(moved_ids))


def _update_existing(cursor, batch, lead, log, fills, params) -> list[int]:
    """Fill and overwrite the mapped fields and move forward in ONE update per lead, only
    where something differs: an unchanged row is not rewritten (no dead tuple, no growth)."""
    sets = []
    olds = []
    news = []
    for field in fills:
        ident = sql.Identifier(field)
        if field == "attributes":
            new = sql.SQL("l.attributes || coalesce(b.attributes, '{}'::jsonb)")
        elif field == "do_not_email":
            # A file records an opt-out, never consent given back (see _fill).
            new = sql.SQL("(l.do_not_email OR coalesce(b.do_not_email, false))")
        else:
            new = sql.SQL("coalesce(b.{f}, l.{f})").format(f=ident)
        sets.append(sql.SQL("{f} = {new}").format(f=ident, new=new))
        olds.append(sql.SQL("l.{f}").format(f=ident))
        news.append(new)
    forward = sql.SQL(
        "(l.stage = b.old_stage AND array_position(%(order)s::text[], b.stage)"
        " > array_position(%(order)s::text[], l.stage))"
    )
    new_stage = sql.SQL("CASE WHEN {fw} THEN b.stage ELSE l.stage END").format(fw=forward)
    sets.append(sql.SQL("stage = {s}").format(s=new_stage))
    sets.append(
        sql.SQL(
            "stage_changed_at = CASE WHEN {fw} THEN greatest(coalesce(b.stage_at, %(now)s),"
            " l.stage_changed_at) ELSE l.stage_changed_at END"
        ).format(fw=forward)
    )
    sets.append(sql.SQL("updated_at = %(now)s"))
    olds.append(sql.SQL("l.stage"))
    news.append(new_stage)
    # By index, lead by lead: a hash join would read the whole leads table for each batch.
    # The batch is indexed too: the changed leads are marked in it by lead id, and a nested
    # loop over an unindexed batch would read all of it for each changed lead.
    cursor.execute(sql.SQL("CREATE INDEX ON {} (lead_id)").format(batch))
    cursor.execute("SET LOCAL enable_hashjoin TO off; SET LOCAL enable_mergejoin TO off")
    # The batch read each lead's stage a while ago; a transition may have moved it since.
    # Lock the leads (in id order, as every import does, so two imports never wait on each
    # other in a cycle), then read their stages again: the move is decided and logged from
    # the stage the lead is in, never from an old one (which logged moves nobody made).
    cursor.execute(
        sql.SQL(
            "SELECT l.id FROM {lead} l WHERE l.id IN"
            " (SELECT lead_id FROM {b} WHERE lead_id IS NOT NULL) ORDER BY l.id FOR UPDATE"
        ).format(lead=lead, b=batch)
    )
    cursor.execute(
        sql.SQL(
            "UPDATE {b} b SET old_stage = l.stage FROM {lead} l"
            " WHERE l.id = b.lead_id AND b.old_stage IS DISTINCT FROM l.stage"
        ).format(lead=lead, b=batch)
    )
    cursor.execute(
        sql.SQL(
            "WITH upd AS ("
            " UPDATE {lead} l SET {sets} FROM {b} b"
            " WHERE b.lead_id = l.id"
            " AND ({olds}) IS DISTINCT FROM ({news})"
            " RETURNING l.id, b.old_stage, l.stage, l.stage_changed_at,"
            " b.story IS NOT NULL AS told),"
            " logged AS ("
            " INSERT INTO {log} (lead_id, from_stage, to_stage, verb, actor_id, system_actor,"
            " at, reason_id, note, campaign_id, data)"
            " SELECT id, old_stage, stage, %(verb)s, NULL, %(actor)s, stage_changed_at, NULL,"
            " '', %(campaign)s, '{{}}'::jsonb FROM upd WHERE stage <> old_stage AND NOT told"
            " RETURNING lead_id)"
            " UPDATE {b} SET changed = true FROM upd WHERE upd.id = {b}.lead_id"
            " RETURNING {b}.lead_id, (SELECT count(*) FROM logged)"
        ).format(
            lead=lead,
            sets=sql.SQL(", ").join(sets),
            b=batch,
            olds=sql.SQL(", ").join(olds),
            news=sql.SQL(", ").join(news),
            log=log,
        ),
        {**params, "order": list(IMPORT_ORDER), "verb": IMPORT_VERB},
    )
    changed = cursor.fetchall()
    cursor.execute("SET LOCAL enable_hashjoin TO on; SET LOCAL enable_mergejoin TO on")
    if not changed:
        return []
    cursor.execute(
        sql.SQL(
            "SELECT b.lead_id FROM {b} b JOIN {lead} l ON l.id = b.lead_id"
            " WHERE b.changed AND l.stage <> b.old_stage"
        ).format(b=batch, lead=lead)
    )
    return [row[0] for row in cursor.fetchall()]


# --- any database (the ORM path) ---------------------------------------------------------


@dataclass
class ImportRecord:
    """One identity's merged row, as `leads_import_records` takes it."""

    ident: str
    line: int
    rows: int
    values: dict  # lead fields (identity included) with a value; attributes as a dict
    stage: str
    stage_at: dt.datetime | None
    lead_id: int | None = None
    created: bool = False
    changed: bool = False
    error: str = ""
    story: dict | None = None  # see Story; None for a plain move


def leads_import_records(
    *,
    records: list[ImportRecord],
    fields: tuple[str, ...],
    on_duplicate: str,
    system_actor: str,
    campaign_id: int | None,
    now: dt.datetime,
    limit_existing: bool = False,
    owners: DealOwners | None = None,
) -> MergeCounts:
    """The ORM twin of `leads_import_merge`, in the caller's transaction. Sets `lead_id`,
    `created`, `changed` (and `error` when a row cannot be imported) on each record."""
    fills = [f for f in fields if f in FILL_FIELDS]
    emails = {r.values["email"] for r in records if r.values.get("email")}
    externals = {r.values["external_id"] for r in records if r.values.get("external_id")}
    # Locked as read, in id order: the stage a move is decided from is the one it is logged
    # from, whatever a transition does meanwhile (see _update_existing).
    known = Lead.objects.select_for_update().order_by("pk")
    by_email = {lead.email: lead for lead in known.filter(email__in=emails)}
    by_external = {lead.external_id: lead for lead in known.filter(external_id__in=externals)}
    counts = MergeCounts()
    new_leads: list[tuple[ImportRecord, Lead]] = []
    changed_leads: dict[int, Lead] = {}
    log_rows: list[Transition] = []
    moved_ids: list[int] = []
    stories: list[Story] = []
    for record in records:
        email = record.values.get("email")
        external_id = record.values.get("external_id")
        existing = by_email.get(email) if email else None
        if existing is None and external_id:
            existing = by_external.get(external_id)
        if existing is None:
            lead = Lead(
                email=email,
                external_id=external_id,
                stage=record.stage,
                stage_changed_at=record.stage_at or now,
                created_at=now,
                **{f: record.values[f] for f in FILL_FIELDS if f in record.values},
            )
            new_leads.append((record, lead))
            if email:
                by_email[email] = lead
            if external_id:
                by_external[external_id] = lead
            continue
        if (
            limit_existing
            and existing.pk is not None
            and on_duplicate == "update"
            and moves_forward(existing.stage, record.stage)
            and record.stage not in MARKETING_TARGETS
        ):
            record.error = authority_refusal(existing.stage, record.stage)
            continue
        record.lead_id = existing.pk
        if existing.pk is None:
            # A second identity of a lead this batch creates: it merges into that one.
            record.created = False
            _fill(existing, record, fills)
            continue
        if on_duplicate != "update":
            continue
        before = (tuple(getattr(existing, f) for f in fills), existing.stage)
        _fill(existing, record, fills)
        old_stage = existing.stage
        if moves_forward(old_stage, record.stage):
            existing.stage = record.stage
            existing.stage_changed_at = max(record.stage_at or now, existing.stage_changed_at)
            moved_ids.append(existing.pk)
            if record.story is not None:
                stories.append(
                    Story(
                        existing.pk,
                        old_stage,
                        record.stage,
                        existing.stage_changed_at,
                        record.story,
                    )
                )
            else:
                log_rows.append(
                    Transition(
                        lead=existing,
                        from_stage=old_stage,
                        to_stage=record.stage,
                        verb=IMPORT_VERB,
                        system_actor=system_actor[:150],
                        at=existing.stage_changed_at,
                        campaign_id=campaign_id,
                    )
                )
        if (tuple(getattr(existing, f) for f in fills), existing.stage) != before:
            record.changed = True
            changed_leads[existing.pk] = existing

    if new_leads:
        created = Lead.objects.bulk_create([lead for _, lead in new_leads])
        for (record, _), lead in zip(new_leads, created, strict=True):
            record.lead_id = lead.pk
            record.created = True
            if record.story is not None:
                stories.append(Story(lead.pk, "", lead.stage, lead.stage_changed_at, record.story))
                continue
            log_rows.append(
                Transition(
                    lead=lead,
                    from_stage="",
                    to_stage=lead.stage,
                    verb=IMPORT_VERB,
                    system_actor=system_actor[:150],
                    at=lead.stage_changed_at,
                    campaign_id=campaign_id,
                )
            )
        # Records that merged into a lead created above learn its id now.
        for record in records:
            if record.lead_id is None and not record.error:
                lead = by_email.get(record.values.get("email")) or by_external.get(
                    record.values.get("external_id")
                )
                record.lead_id = lead.pk if lead is not None else None
    if changed_leads:
        for lead in changed_leads.values():
            lead.updated_at = now
        Lead.objects.bulk_update(
            list(changed_leads.values()), [*fills, "stage", "stage_changed_at", "updated_at"]
        )
    if log_rows:
        Transition.objects.bulk_create(log_rows)
    if stories:
        tell_stories(
            stories,
            system_actor=system_actor,
            campaign_id=campaign_id,
            now=now,
            owners=owners or DealOwners({}),
        )
    created_ids = [record.lead_id for record, _ in new_leads]
    for record in records:
        if record.created:
            counts.created += 1
        elif record.changed:
            counts.updated += 1
        elif record.lead_id is not None:
            counts.unchanged += 1
    counts.moved = len(moved_ids)
    _send_on_commit(created_ids, moved_ids, system_actor)
    return counts


def _fill(lead: Lead, record: ImportRecord, fills) -> None:
    for field in fills:
        if field not in record.values:
            continue
        if field == "attributes":
            lead.attributes = {**(lead.attributes or {}), **record.values["attributes"]}
        elif field == "do_not_email":
            # An import may record that a person wants no e-mail; it never gives consent back
            # to one who unsubscribed (that is the person's, or a manager's with a reason).
            lead.do_not_email = lead.do_not_email or bool(record.values["do_not_email"])
        else:
            setattr(lead, field, record.values[field])
