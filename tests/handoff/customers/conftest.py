"""Customer tests run on SQLite and PostgreSQL, as the ticket tests do."""

from tests.handoff.tickets.conftest import database, database_url  # noqa: F401 - fixtures
