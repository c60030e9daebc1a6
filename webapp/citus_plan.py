"""``flask tenancy citus-plan``: how the live schema would be distributed by organization (Citus).

Citus shards a table by one column and keeps a *reference table* whole on every node. For this
schema the distribution column is ``organization_id``: every tenant table is distributed by it,
all of them co-located, so one organization's rows (documents, blobs, digests, usage, audit…)
live on one node and every tenant query and foreign key stays on that node. Global tables
(plans, platform admins…) become reference tables. Two tenant tables stay whole by decision
(``REFERENCE_TENANT_TABLES``, each with its reason). ``alembic_version`` stays on the
coordinator.

The plan is read from the catalog, so a table added by a later migration joins it, and the
command exits 1 naming whatever Citus would refuse (its rules for distributed tables):

* the distribution column must exist and be NOT NULL (a row without it belongs to no shard);
* every primary key and unique constraint or index must include it (uniqueness is checked per
  shard);
* a foreign key between two distributed tables must pair ``organization_id`` with
  ``organization_id``; one from a distributed table may point at a reference table, never at a
  table that stays local;
* a reference table may not point at a distributed table.

See docs/scaling.md for what the plan leaves to the operator (adding nodes, moving shards).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from graphlib import TopologicalSorter

from sqlalchemy import text
from sqlalchemy.engine import Connection

DISTRIBUTION_COLUMN = "organization_id"
# Tenant data kept whole on every node, and why: neither fits one organization's shard.
REFERENCE_TENANT_TABLES = {
    # Keyed by its own id (the tenant tables' foreign keys point at it); small, read on every
    # request, and its slug is unique platform-wide.
    "organizations": "one row per organization; slug unique platform-wide",
    # Log-in finds a person by e-mail alone, before any organization is known, and an e-mail
    # is unique platform-wide (uq_users_email).
    "users": "e-mail unique platform-wide (log-in looks a person up before the organization)",
}
# Bookkeeping that stays on the coordinator only.
LOCAL_TABLES = frozenset({"alembic_version"})


@dataclass
class CitusPlan:
    """The statements to run on the coordinator, in order, and what would block them."""

    reference: list[str] = field(default_factory=list)
    distributed: list[str] = field(default_factory=list)
    local: list[str] = field(default_factory=list)
    blockers: list[str] = field(default_factory=list)

    def statements(self) -> list[str]:
        """``SELECT create_reference_table(...)`` then ``create_distributed_table(...)`` lines."""
        lines = [f"SELECT create_reference_table('{t}');" for t in self.reference]
        anchor = self.distributed[0] if self.distributed else None
        for table in self.distributed:
            colocate = "" if table == anchor else f", colocate_with => '{anchor}'"
            lines.append(
                f"SELECT create_distributed_table('{table}', '{DISTRIBUTION_COLUMN}'{colocate});"
            )
        return lines


_TABLES = text(
    "SELECT c.oid, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition "
    "ORDER BY c.relname"
)
_DISTRIBUTION_COLUMNS = text(
    "SELECT attrelid AS oid, attnum, attnotnull FROM pg_attribute "
    "WHERE attname = :col AND NOT attisdropped AND attrelid = ANY(:oids)"
)
# Unique indexes back primary keys and unique constraints too; expression columns read as 0.
_UNIQUE_INDEXES = text(
    "SELECT i.indrelid AS oid, ic.relname AS name, i.indisprimary AS primary, "
    "(i.indkey::int2[])[0:i.indnkeyatts - 1] AS cols "
    "FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid "
    "WHERE i.indisunique AND i.indrelid = ANY(:oids) ORDER BY ic.relname"
)
_FOREIGN_KEYS = text(
    "SELECT conname AS name, conrelid AS source, confrelid AS target, conkey, confkey "
    "FROM pg_constraint WHERE contype = 'f' AND conrelid = ANY(:oids) ORDER BY conname"
)


def citus_plan(conn: Connection) -> CitusPlan:
    """The distribution plan for the connected database's public schema (read-only)."""
    tables = {row.oid: row.relname for row in conn.execute(_TABLES)}
    oids = list(tables)
    dist_col = {
        row.oid: row
        for row in conn.execute(_DISTRIBUTION_COLUMNS, {"col": DISTRIBUTION_COLUMN, "oids": oids})
    }
    plan = CitusPlan()
    kind: dict[int, str] = {}
    for oid, name in tables.items():
        if name in LOCAL_TABLES:
            kind[oid] = "local"
        elif name in REFERENCE_TENANT_TABLES or oid not in dist_col:
            kind[oid] = "reference"
        else:
            kind[oid] = "distributed"
            if not dist_col[oid].attnotnull:
                plan.blockers.append(f"{name}: {DISTRIBUTION_COLUMN} may be NULL")

    for row in conn.execute(_UNIQUE_INDEXES, {"oids": oids}):
        if kind[row.oid] != "distributed" or dist_col[row.oid].attnum in row.cols:
            continue
        what = "primary key" if row.primary else "unique index"
        plan.blockers.append(
            f"{tables[row.oid]}: {what} {row.name} does not include {DISTRIBUTION_COLUMN}"
        )

    depends: dict[int, set[int]] = {oid: set() for oid in tables}
    for fk in conn.execute(_FOREIGN_KEYS, {"oids": oids}):
        source, target = kind[fk.source], kind.get(fk.target, "local")
        where = f"{tables[fk.source]}: foreign key {fk.name} to {tables.get(fk.target, '?')}"
        if fk.target != fk.source:
            depends[fk.source].add(fk.target)
        if source == "distributed" and target == "distributed":
            pairs = set(zip(fk.conkey, fk.confkey, strict=True))
            if (dist_col[fk.source].attnum, dist_col[fk.target].attnum) not in pairs:
                plan.blockers.append(
                    f"{where} does not pair {DISTRIBUTION_COLUMN} with {DISTRIBUTION_COLUMN}"
                )
        elif source == "distributed" and target == "local":
            plan.blockers.append(f"{where}, a table that stays on the coordinator")
        elif source == "reference" and target == "distributed":
            plan.blockers.append(f"{where}: a reference table cannot point at a distributed one")

    # Referenced tables first (Citus distributes a table only once its targets are), by name
    # within each layer so the plan reads the same on every run.
    lists = {"reference": plan.reference, "distributed": plan.distributed, "local": plan.local}
    order = TopologicalSorter(depends)
    order.prepare()
    while order.is_active():
        ready = sorted(order.get_ready(), key=tables.__getitem__)
        for oid in ready:
            lists[kind[oid]].append(tables[oid])
        order.done(*ready)
    return plan
