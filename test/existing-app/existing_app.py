"""
The existing application's side of test/e2e/existing-app.test.ts: its ORM (the seed model,
unchanged) creates the schema, writes sessions, logs one out and reads rows back, as that
application does. Each subcommand prints one JSON document on stdout.

    existing_app.py create-schema URL
    existing_app.py write-sessions URL
    existing_app.py logout URL ID
    existing_app.py read URL ID...

Run with Debian's interpreter (/usr/bin/python3), which sees python3-sqlalchemy and python3-psycopg2.
"""
import argparse
import hashlib
import json
import secrets
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from typing import Any

# Before the models: the seed is imported from a directory that is not ours.
sys.dont_write_bytecode = True

from sqlalchemy import create_engine, event  # noqa: E402
from sqlalchemy.engine import Engine  # noqa: E402
from sqlalchemy.orm import Session as OrmSession  # noqa: E402

from app.core.database import Base  # noqa: E402
from app.models import Session, Tenant, User  # noqa: E402


def make_engine(url: str) -> Engine:
    """
    An engine whose every connection runs in UTC. psycopg2 returns a timestamptz in the
    connection's TimeZone, so on a server configured otherwise `to_dict()` would print the same
    instant as e.g. `+05:30`, and comparing its strings with the Worker's (always UTC, `+00:00`)
    would prove nothing. We pin the session rather than normalise afterwards, so that `to_dict()`
    and `is_expired` run unmodified on what the driver returns. `SET` after connecting, not a
    startup option: PGTZ in the environment would override that (the test sets it on purpose).
    """
    # SQLAlchemy 1.4 no longer accepts the `postgres://` scheme the Node side uses.
    if url.startswith("postgres://"):
        url = "postgresql+psycopg2://" + url[len("postgres://") :]
    engine = create_engine(url, future=True)

    @event.listens_for(engine, "connect")
    def pin_utc(dbapi_connection: Any, _record: Any) -> None:
        # Outside a transaction: the pool's rollback on check-in would otherwise undo the SET.
        dbapi_connection.autocommit = True
        with dbapi_connection.cursor() as cursor:
            cursor.execute("SET TIME ZONE 'UTC'")
        dbapi_connection.autocommit = False

    return engine


@contextmanager
def orm_session(url: str) -> Iterator[OrmSession]:
    """One unit of work, committed on success, as the application's request scope does."""
    engine = make_engine(url)
    try:
        with OrmSession(engine, future=True) as db, db.begin():
            yield db
    finally:
        engine.dispose()


def hash_token(token: str) -> str:
    """How the application stores a token: the hex SHA-256 of its UTF-8 bytes."""
    return hashlib.sha256(token.encode()).hexdigest()


def create_schema(url: str) -> dict[str, Any]:
    """`create_all` of the application's models: the schema session-gate's migrations meet."""
    engine = make_engine(url)
    try:
        Base.metadata.create_all(engine)
    finally:
        engine.dispose()
    return {"tables": sorted(Base.metadata.tables)}


def write_sessions(url: str) -> dict[str, Any]:
    """
    One user, one tenant and five sessions, written through the ORM with its own defaults for
    `id`, `is_active` and `app_type` (the table has no server defaults for them). Times come from
    this process's clock, as in the application, with microseconds; `live` expires on a whole
    second, so both of isoformat()'s forms are exercised.
    """
    now = datetime.now(timezone.utc)
    hour = timedelta(hours=1)
    with orm_session(url) as db:
        user = User(email=f"user-{secrets.token_hex(6)}@example.test", name="Existing App User")
        tenant = Tenant(name="Existing App Tenant")
        specs: dict[str, dict[str, Any]] = {
            # created_at and last_activity_at: the seed's server_default now().
            "live": {"absolute_expires_at": (now + 8 * hour).replace(microsecond=0), "ip_address": "203.0.113.7"},
            # Past its absolute limit, though used ten minutes ago.
            "expired": {
                "created_at": now - 9 * hour,
                "last_activity_at": now - timedelta(minutes=10),
                "absolute_expires_at": now - hour,
                "ip_address": "2001:db8::7",
            },
            # Unused for two hours, well within its absolute limit.
            "idle": {
                "created_at": now - 3 * hour,
                "last_activity_at": now - 2 * hour,
                "absolute_expires_at": now + 5 * hour,
            },
            "logout": {"absolute_expires_at": now + 8 * hour},
            "tenant_app": {"tenant": tenant, "app_type": "tenant_app", "absolute_expires_at": now + 8 * hour},
        }
        written: dict[str, dict[str, str]] = {}
        for name, fields in specs.items():
            token = secrets.token_urlsafe(32)
            row = Session(user=user, session_token_hash=hash_token(token), user_agent="existing-app/1.0", **fields)
            db.add(row)
            db.flush()  # assigns the Python-side default id
            written[name] = {"id": str(row.id), "token": token}
        return {"user_id": user.id, "tenant_id": tenant.id, "sessions": written}


def logout(url: str, session_id: str) -> dict[str, Any]:
    """The application's own logout: the row stays, marked ended, with this process's clock."""
    with orm_session(url) as db:
        row = db.get(Session, uuid.UUID(session_id))
        if row is None:
            raise SystemExit(f"existing-app: no session {session_id}")
        now = datetime.now(timezone.utc)
        row.is_active = False
        row.revoked_at = now
        row.ended_at = now
        row.revoke_reason = "logout"
        db.flush()
        return row.to_dict()


def read(url: str, session_ids: list[str]) -> list[dict[str, Any]]:
    """Each row as the application sees it: its `to_dict()` and its `is_expired`."""
    with orm_session(url) as db:
        rows = []
        for session_id in session_ids:
            row = db.get(Session, uuid.UUID(session_id))
            if row is None:
                raise SystemExit(f"existing-app: no session {session_id}")
            rows.append({"id": session_id, "to_dict": row.to_dict(), "is_expired": row.is_expired})
        return rows


def main(argv: list[str]) -> None:
    """Parses the subcommand, runs it, prints its result as JSON."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    for name in ("create-schema", "write-sessions"):
        commands.add_parser(name).add_argument("url")
    logout_parser = commands.add_parser("logout")
    logout_parser.add_argument("url")
    logout_parser.add_argument("id")
    read_parser = commands.add_parser("read")
    read_parser.add_argument("url")
    read_parser.add_argument("ids", nargs="+")
    args = parser.parse_args(argv)

    if args.command == "create-schema":
        result: Any = create_schema(args.url)
    elif args.command == "write-sessions":
        result = write_sessions(args.url)
    elif args.command == "logout":
        result = logout(args.url, args.id)
    else:
        result = read(args.url, args.ids)
    print(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1:])
