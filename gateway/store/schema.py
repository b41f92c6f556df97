"""The one table the gateway keeps, identical on SQLite and PostgreSQL."""

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Column, DateTime, Dialect, Index, Integer, MetaData, String, Table
from sqlalchemy.types import TypeDecorator

TABLE_NAME = "scim_resources"


class UtcDateTime(TypeDecorator[datetime]):
    """A timestamp that goes in aware and comes out aware, in UTC, on every backend.

    SQLite has no time zone type and SQLAlchemy's SQLite DATETIME drops the offset, so values
    are converted to UTC before they are stored and marked UTC again when read.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("the store keeps aware datetimes only; attach a time zone (UTC)")
        value = value.astimezone(UTC)

        return value if dialect.name == "postgresql" else value.replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)

        return value.astimezone(UTC)


def resources_table(metadata: MetaData) -> Table:
    """`scim_resources`: one row per SCIM resource, keyed by kind and portal id.

    `extra` is plain JSON, not JSONB: the gateway never queries inside it, and JSON keeps
    the attributes exactly as sent. The (kind, external_id) index answers `externalId eq`.
    """
    return Table(
        TABLE_NAME,
        metadata,
        Column("kind", String(16), primary_key=True),
        Column("portal_id", String, primary_key=True),
        Column("external_id", String, nullable=True),
        Column("extra", JSON, nullable=False),
        Column("created", UtcDateTime, nullable=False),
        Column("last_modified", UtcDateTime, nullable=False),
        Column("version", Integer, nullable=False),
        Index(f"ix_{TABLE_NAME}_kind_external_id", "kind", "external_id"),
    )
