"""Engine and sessions for both databases, and the schema's migrations.

SQLite is the embedded store of a single replica: every transaction starts with
``BEGIN IMMEDIATE`` so writers queue on the database lock instead of failing half way
with ``database is locked``, and queue in the process first (``write_gate``), so the
lock passes straight to the next writer, Slack requests before jobs. PostgreSQL is the
store of several replicas; claims there use ``FOR UPDATE SKIP LOCKED``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session

from workflows.store.write_gate import WriteGate

if TYPE_CHECKING:  # alembic is imported only when migrating
    from alembic.config import Config

READ_ONLY_OPTION = "shipbot_read_only"
SQLITE_BUSY_TIMEOUT = 30.0  # seconds a writer waits for the lock before failing
SQLITE_POOL_SIZE = 16  # kept open; more are opened (and closed again) under a burst
MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
HEAD_REVISION = "0003"
"""The newest migration in ``MIGRATIONS_DIR``, so a start can tell "current" without
importing Alembic (tests/workflows/test_migrations.py keeps it equal to Alembic's head)."""


def normalise_url(url: str) -> str:
    """Accept the URLs people paste (``postgres://``, ``postgresql://``) and pick psycopg 3."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


def _sqlite_engine(url: str, *, echo: bool) -> Engine:
    engine = create_engine(
        url,
        echo=echo,
        connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT},
        # Every request thread and job thread may hold a connection while it queues at the
        # write gate; a capped pool would leave the gate's holder unable to get one.
        pool_size=SQLITE_POOL_SIZE,
        max_overflow=-1,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide when a transaction begins (see "begin").
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    _gate_writes(engine)
    return engine


def _gate_writes(engine: Engine) -> None:
    """Queue this engine's write transactions at a ``WriteGate`` (see write_gate.py)."""
    gate = WriteGate(timeout=SQLITE_BUSY_TIMEOUT)

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # A read-only session must not queue behind (or block) writers for the write lock.
        if connection.get_execution_options().get(READ_ONLY_OPTION, False):
            connection.exec_driver_sql("BEGIN")
            return
        owner = id(_raw(connection.connection))
        gate.acquire(owner)
        try:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            gate.release(owner)
            raise

    # The gate is freed after the transaction ends, whoever ends it (a commit, a rollback,
    # the pool's reset on return, a connection closed or invalidated).
    dialect: Any = engine.dialect
    commit, rollback = dialect.do_commit, dialect.do_rollback

    def do_commit(dbapi_connection: Any) -> None:
        try:
            commit(dbapi_connection)
        finally:
            gate.release(id(_raw(dbapi_connection)))

    def do_rollback(dbapi_connection: Any) -> None:
        try:
            rollback(dbapi_connection)
        finally:
            gate.release(id(_raw(dbapi_connection)))

    dialect.do_commit, dialect.do_rollback = do_commit, do_rollback

    @event.listens_for(engine, "close")
    @event.listens_for(engine, "invalidate")
    def _on_gone(dbapi_connection: Any, *_: Any) -> None:
        gate.release(id(dbapi_connection))


def _raw(connection: Any) -> Any:
    """The sqlite3 connection behind a pool proxy (or the connection itself)."""
    return getattr(connection, "dbapi_connection", connection)


class Database:
    """One database: its engine, sessions and migrations."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = normalise_url(url)
        self.dialect = make_url(self.url).get_backend_name()
        if self.dialect == "sqlite":
            self.engine = _sqlite_engine(self.url, echo=echo)
        else:
            self.engine = create_engine(
                self.url, echo=echo, pool_pre_ping=True, pool_size=10, max_overflow=20
            )

    @property
    def is_postgres(self) -> bool:
        return self.dialect == "postgresql"

    def session(self) -> Session:
        return Session(self.engine, expire_on_commit=False)

    def read_session(self) -> Session:
        """A session for reads only. On SQLite it begins DEFERRED, so it neither waits for
        nor holds the write lock (WAL readers see the last commit); a write through it
        would fail on SQLite. On PostgreSQL it is an ordinary session."""
        return Session(
            self.engine.execution_options(**{READ_ONLY_OPTION: True}), expire_on_commit=False
        )

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session whose work commits on success and rolls back on any exception."""
        with session_scope(self) as session:
            yield session

    def read_connection(self) -> Connection:
        """A Core connection for reads only (see ``read_session``), for hot paths where an
        ORM session costs more than the query."""
        return self.engine.execution_options(**{READ_ONLY_OPTION: True}).connect()

    def ping(self) -> None:
        with self.read_connection() as connection:
            connection.execute(text("SELECT 1"))

    def _alembic_config(self) -> Config:
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS_DIR))
        config.attributes["engine"] = self.engine
        return config

    def upgrade(self, revision: str = "head") -> None:
        """Bring the schema to ``revision`` (Alembic)."""
        from alembic import command

        command.upgrade(self._alembic_config(), revision)

    def upgrade_if_behind(self) -> None:
        """``upgrade`` unless the schema is already at ``HEAD_REVISION``: one query, where
        Alembic's import and no-op run cost about half a second of every start."""
        if self.current_revision() != HEAD_REVISION:
            self.upgrade()

    def current_revision(self) -> str | None:
        """The schema's revision, read from ``alembic_version`` with one query and no
        Alembic import (None before the first migration)."""
        try:
            with self.read_connection() as connection:
                found = connection.execute(text("SELECT version_num FROM alembic_version"))
                return found.scalar()
        except DBAPIError:  # no such table yet
            return None

    def head_revision(self) -> str | None:
        from alembic.script import ScriptDirectory

        return ScriptDirectory.from_config(self._alembic_config()).get_current_head()

    def knows_revision(self, revision: str) -> bool:
        """Whether ``revision`` is one of this release's migrations (not a newer one's)."""
        from alembic.script import ScriptDirectory

        script = ScriptDirectory.from_config(self._alembic_config())
        return any(rev.revision == revision for rev in script.walk_revisions())

    def downgrade(self, revision: str = "-1") -> None:
        """Step the schema back to ``revision`` (default: undo the newest migration)."""
        from alembic import command

        command.downgrade(self._alembic_config(), revision)

    def migrations_current(self) -> bool:
        return self.current_revision() == self.head_revision()

    def dispose(self) -> None:
        self.engine.dispose()


@contextmanager
def session_scope(database: Database) -> Iterator[Session]:
    session = database.session()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
