"""Every statement of the SQL core, built once at import with bind parameters.

Prebuilt statements mean nothing is constructed per request and SQLAlchemy's compiled cache
hits on every execution. Only the search is built per call (its filters vary).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Insert,
    Select,
    bindparam,
    case,
    delete,
    func,
    or_,
    select,
    text,
    type_coerce,
    update,
)

from procflow.model.states import MUTABLE_INSTANCE_STATES
from procflow.store.port import InstanceQuery
from procflow.store.schema import (
    UtcDateTime,
    active_builds,
    apps,
    audit_events,
    builds,
    idempotency_keys,
    message_results,
    process_definitions,
    process_instances,
    workspaces,
)
from procflow.store.schema import jobs as jobs_table

InsertConstruct = Callable[..., Insert]

_pi = process_instances.c
INSTANCE_COLUMNS = (
    _pi.id,
    _pi.uuid,
    _pi.workspace_id,
    _pi.app_id,
    _pi.build_id,
    _pi.definition_id,
    _pi.definition_name,
    _pi.state,
    _pi.data,
    _pi.document,
    _pi.version,
    _pi.copied_from_uuid,
    _pi.lineage_root_uuid,
    _pi.created_at,
    _pi.updated_at,
    _pi.parent_uuid,
    _pi.root_uuid,
    _pi.call_depth,
)
SELECT_INSTANCE = select(*INSTANCE_COLUMNS).where(_pi.uuid == bindparam("uuid"))
SELECT_INSTANCE_FOR_UPDATE = SELECT_INSTANCE.with_for_update()
# A start on the app's active build inserts only while ``build_id`` is still the active one:
# the runtime may have read it from its cache, and another replica may have activated
# another build since (no row returned: the start runs again on the new one).
INSERT_INSTANCE_WHILE_ACTIVE = (
    process_instances.insert()
    .from_select(
        [c.name for c in INSTANCE_COLUMNS if c is not _pi.id],
        select(
            *(
                bindparam(c.name, type_=c.type).label(c.name)
                for c in INSTANCE_COLUMNS
                if c is not _pi.id
            )
        ).where(
            select(active_builds.c.build_id)
            .where(
                active_builds.c.workspace_id == bindparam("workspace_id"),
                active_builds.c.app_id == bindparam("app_id"),
                active_builds.c.build_id == bindparam("build_id"),
            )
            .exists()
        ),
    )
    .returning(_pi.id)
)
INSERT_INSTANCE = (
    process_instances.insert()
    .values({c.name: bindparam(c.name) for c in INSTANCE_COLUMNS if c is not _pi.id})
    .returning(_pi.id)
)
UPDATE_INSTANCE = (
    update(process_instances)
    .where(
        _pi.uuid == bindparam("b_uuid"),
        _pi.version == bindparam("b_version"),
        # The same rule the engine follows, guarded in SQL so a late writer can never move
        # an instance that already ended.
        _pi.state.in_(sorted(MUTABLE_INSTANCE_STATES)),
    )
    .values(
        state=bindparam("state"),
        data=bindparam("data"),
        document=bindparam("document"),
        updated_at=bindparam("updated_at"),
        version=_pi.version + 1,
    )
)
SELECT_LINEAGE = (
    select(*INSTANCE_COLUMNS)
    .where(or_(_pi.uuid == bindparam("root"), _pi.lineage_root_uuid == bindparam("root")))
    .order_by(_pi.id)
)

SELECT_CHILDREN = (
    select(_pi.uuid, _pi.definition_name, _pi.state)
    .where(_pi.parent_uuid == bindparam("parent"))
    .order_by(_pi.id)
)

SELECT_WORKSPACE = select(workspaces.c.id, workspaces.c.name).where(
    workspaces.c.id == bindparam("id")
)
SELECT_APP = select(apps.c.id, apps.c.workspace_id, apps.c.name).where(apps.c.id == bindparam("id"))
SELECT_BUILD = select(
    builds.c.id, builds.c.workspace_id, builds.c.app_id, builds.c.checksum, builds.c.status,
    builds.c.created_at,
).where(builds.c.id == bindparam("id"))  # fmt: skip
_pd = process_definitions.c
SELECT_BUILD_DEFINITIONS = (
    select(_pd.id, _pd.name, _pd.file_name, _pd.text)
    .where(_pd.build_id == bindparam("build_id"))
    .order_by(_pd.name)
)
SELECT_DEFINITION = select(_pd.id, _pd.name, _pd.file_name, _pd.text).where(
    _pd.id == bindparam("id")
)
SELECT_ACTIVE_BUILD = select(active_builds.c.build_id).where(
    active_builds.c.workspace_id == bindparam("workspace_id"),
    active_builds.c.app_id == bindparam("app_id"),
)

_ae = audit_events.c
# inline(): no RETURNING of the sequence number, which nothing reads.
INSERT_AUDIT = (
    audit_events.insert()
    .inline()
    .values({c.name: bindparam(c.name) for c in audit_events.c if c is not _ae.seq})
)
# PostgreSQL: a command's events as one statement, the rows sent as one JSON array (kept in
# its order), so that they can travel with the COMMIT (``PostgresStore._commit``).
_AUDIT_COLUMNS = "instance_uuid, type, node_id, token_uuid, details, at"
INSERT_AUDIT_ROWS = text(
    f"INSERT INTO audit_events ({_AUDIT_COLUMNS}) SELECT {_AUDIT_COLUMNS}"
    " FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS x(instance_uuid uuid, type text,"
    " node_id text, token_uuid uuid, details jsonb, at timestamptz)"
)
SELECT_AUDIT = (
    select(_ae.seq, _ae.instance_uuid, _ae.type, _ae.node_id, _ae.token_uuid, _ae.details, _ae.at)
    .where(_ae.instance_uuid == bindparam("instance_uuid"))
    .order_by(_ae.seq)
)

SUMMARIZE_AUDIT = (
    select(_ae.type, func.count(), func.max(_ae.at))
    .where(_ae.instance_uuid == bindparam("instance_uuid"))
    .group_by(_ae.type)
    .order_by(func.min(_ae.seq))
)

_ik = idempotency_keys.c
SELECT_IDEMPOTENCY = select(_ik.workspace_id, _ik.key, _ik.request_hash, _ik.instance_uuid).where(
    _ik.workspace_id == bindparam("workspace_id"), _ik.key == bindparam("key")
)

_j = jobs_table.c
JOB_COLUMNS = (
    _j.id, _j.kind, _j.key, _j.instance_uuid, _j.wait_id, _j.token_uuid, _j.node_id,
    _j.payload, _j.attempts, _j.run_at, _j.locked_until,
)  # fmt: skip
DUE_JOB_IDS = (
    select(_j.id)
    .where(
        _j.run_at <= bindparam("now"),
        _j.held.is_(False),
        or_(_j.locked_until.is_(None), _j.locked_until < bindparam("now")),
    )
    .order_by(_j.run_at, _j.id)
    .limit(bindparam("limit"))
    # PostgreSQL: concurrent claimers skip each other's rows instead of queueing behind them.
    # SQLite ignores the clause; its write transactions are exclusive already.
    .with_for_update(skip_locked=True)
)
CLAIM_JOBS = (
    update(jobs_table)
    .where(_j.id.in_(DUE_JOB_IDS.scalar_subquery()))
    .values(
        locked_by=bindparam("worker_id"),
        locked_until=bindparam("locked_until"),
        attempts=_j.attempts + 1,
    )
    .returning(*JOB_COLUMNS)
)
# A claimed job comes back when its lease runs out, not at its due time.
# (Typed, so that SQLite's text timestamps come back as aware datetimes too.)
NEXT_DUE_AT = select(
    type_coerce(
        func.min(case((_j.locked_until > _j.run_at, _j.locked_until), else_=_j.run_at)),
        UtcDateTime,
    )
).where(_j.held.is_(False))
COMPLETE_JOB = delete(jobs_table).where(
    _j.id == bindparam("b_id"), _j.locked_by == bindparam("b_w")
)
CANCEL_JOBS = delete(jobs_table).where(
    _j.instance_uuid == bindparam("instance_uuid"),
    _j.wait_id.in_(bindparam("wait_ids", expanding=True)),
)
LIKE_ESCAPE = "\\"
CANCEL_JOBS_WITH_KEY_PREFIX = delete(jobs_table).where(
    _j.key.like(bindparam("pattern"), escape=LIKE_ESCAPE)
)
HOLD_JOBS = (
    update(jobs_table)
    .where(_j.instance_uuid == bindparam("b_instance_uuid"))
    .values(held=bindparam("b_held"))
)
SELECT_INSTANCE_JOBS = (
    select(*JOB_COLUMNS)
    .where(_j.instance_uuid == bindparam("instance_uuid"))
    .order_by(_j.run_at, _j.id)
)
CONTINUE_JOB = (
    update(jobs_table)
    .where(_j.id == bindparam("b_id"), _j.locked_by == bindparam("b_w"))
    .values(
        kind=bindparam("kind"),
        key=bindparam("key"),
        wait_id=bindparam("wait_id"),
        token_uuid=bindparam("token_uuid"),
        node_id=bindparam("node_id"),
        payload=bindparam("payload"),
        run_at=bindparam("now"),
        attempts=1,
        locked_until=bindparam("locked_until"),
        last_error=None,
    )
)
RELEASE_JOB = (
    update(jobs_table)
    .where(_j.id == bindparam("b_id"), _j.locked_by == bindparam("b_w"))
    .values(
        locked_by=None,
        locked_until=None,
        run_at=bindparam("retry_at"),
        last_error=bindparam("error"),
    )
)
PARK_JOB = (
    update(jobs_table)
    .where(_j.id == bindparam("b_id"), _j.locked_by == bindparam("b_w"))
    .values(locked_by=None, locked_until=None, held=True, attempts=_j.attempts - 1)
)


def search_instances(query: InstanceQuery) -> Select[*tuple[Any, ...]]:
    """The one statement built per call: which filters apply varies with the query."""
    statement = _filtered(select(*INSTANCE_COLUMNS), query)
    if query.after is not None:
        statement = statement.where(_pi.id > query.after)
    return statement.order_by(_pi.id).limit(query.limit)


def search_instance_uuids(query: InstanceQuery) -> Select[*tuple[Any, ...]]:
    statement = _filtered(select(_pi.id, _pi.uuid), query)
    if query.after is not None:
        statement = statement.where(_pi.id > query.after)
    return statement.order_by(_pi.id).limit(query.limit)


def count_instances(query: InstanceQuery) -> Select[*tuple[Any, ...]]:
    return _filtered(select(func.count()).select_from(process_instances), query)


AnySelect = Select[*tuple[Any, ...]]


def _filtered(statement: AnySelect, query: InstanceQuery) -> AnySelect:
    if query.extra:
        raise ValueError(f"unsupported search filters: {sorted(query.extra)}")
    statement = statement.where(_pi.workspace_id == query.workspace_id)
    if query.definition_name is not None:
        statement = statement.where(_pi.definition_name == query.definition_name)
    if query.states:
        statement = statement.where(_pi.state.in_([s.value for s in query.states]))
    if query.created_from is not None:
        statement = statement.where(_pi.created_at >= _as_utc(query.created_from))
    if query.created_to is not None:
        statement = statement.where(_pi.created_at < _as_utc(query.created_to))
    if query.lineage_root_uuid is not None:
        root = query.lineage_root_uuid
        statement = statement.where(or_(_pi.uuid == root, _pi.lineage_root_uuid == root))
    if query.parent_uuid is not None:
        statement = statement.where(_pi.parent_uuid == query.parent_uuid)
    if query.root_uuid is not None:
        statement = statement.where(_pi.root_uuid == query.root_uuid)
    return statement


def _as_utc(moment: datetime) -> datetime:
    """Search bounds typed by people (``?createdFrom=2026-01-01T00:00``) often lack a zone;
    read them as UTC. Writes stay strict: a naive timestamp saved is a bug (see UtcDateTime)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


@dataclass(frozen=True)
class DialectStatements:
    """The statements whose SQL differs by dialect: both spell ``ON CONFLICT`` through their
    own ``insert`` construct (same API, different compilers)."""

    upsert_active_build: Insert
    insert_idempotency_key: Insert
    insert_jobs: Insert
    insert_message_result: Insert

    @classmethod
    def using(cls, dialect_insert: InsertConstruct) -> DialectStatements:
        upsert: Any = dialect_insert(active_builds)
        upsert = upsert.on_conflict_do_update(
            index_elements=[active_builds.c.workspace_id, active_builds.c.app_id],
            set_={"build_id": upsert.excluded.build_id},
        )
        # ON CONFLICT DO NOTHING rather than catching IntegrityError: on PostgreSQL an error
        # would abort the whole surrounding transaction.
        insert_key: Any = dialect_insert(idempotency_keys)
        insert_key = insert_key.on_conflict_do_nothing()
        # SQLAlchemy reads an INSERT's rowcount only when asked to.
        insert_key = insert_key.execution_options(preserve_rowcount=True)
        # A job whose key is queued already is the same job scheduled twice: skip it.
        # Every column a bind of its own name: the statement is issued through the driver
        # (store.hot), which compiles it once.
        insert_jobs: Any = (
            dialect_insert(jobs_table)
            .inline()
            .values({c.name: bindparam(c.name) for c in jobs_table.c if c is not _j.id})
        )
        insert_jobs = insert_jobs.on_conflict_do_nothing(index_elements=[jobs_table.c.key])
        # A messageId answered by a concurrent request first: that answer stands.
        insert_result: Any = dialect_insert(message_results)
        insert_result = insert_result.on_conflict_do_nothing()
        insert_result = insert_result.execution_options(preserve_rowcount=True)
        return cls(upsert, insert_key, insert_jobs, insert_result)
