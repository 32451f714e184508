"""Our SQL tracker store publishes exactly the events Rasa's would, without
reading the conversation back on every save."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlalchemy
import yaml
from rasa.core.brokers.broker import EventBroker
from rasa.core.tracker_store import SQLTrackerStore as RasaSQLTrackerStore
from rasa.core.tracker_store import TrackerStore, create_tracker_store
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted,
    BotUttered,
    ConversationPaused,
    SessionStarted,
    UserUttered,
)
from rasa.utils.endpoints import EndpointConfig
from sqlalchemy.engine import make_url

from addons.tracker_store import SQLTrackerStore
from tests.conftest import PROJECT


class RecordingBroker(EventBroker):
    def __init__(self) -> None:
        self.published: list[dict[str, Any]] = []

    def publish(self, event: dict[str, Any]) -> None:
        self.published.append(event)


def store_settings(url: str) -> dict[str, Any]:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return {"dialect": "sqlite", "db": parsed.database}
    return {
        "dialect": "postgresql",
        "host": parsed.host,
        "port": parsed.port,
        "username": parsed.username,
        "password": parsed.password,
        "db": parsed.database,
    }


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'tracker.db'}"
    return request.getfixturevalue("postgres_url")


async def converse(store: TrackerStore, domain: Domain) -> None:
    """Three saves, the last starting a new session, as Rasa's processor does."""
    tracker = await store.get_or_create_tracker("customer-1", append_action_listen=False)
    for event in [
        ActionExecuted("action_session_start"),
        SessionStarted(),
        ActionExecuted("action_listen"),
        UserUttered("我要转人工", {"name": "human_handoff", "confidence": 0.9}),
    ]:
        tracker.update(event, domain)
    await store.save(tracker)

    tracker = await store.retrieve("customer-1")
    tracker.update(ConversationPaused(), domain)
    tracker.update(BotUttered("您好，我是客服小王", metadata={"agent_id": "7"}), domain)
    await store.save(tracker)

    tracker = await store.retrieve("customer-1")
    tracker.update(ActionExecuted("action_session_start"), domain)
    tracker.update(SessionStarted(timestamp=tracker.events[-1].timestamp + 1), domain)
    tracker.update(UserUttered("hello again", {"name": "greet", "confidence": 0.9}), domain)
    await store.save(tracker)


async def test_it_publishes_what_rasas_store_publishes_once_each(database_url, tmp_path):
    domain = Domain.load(PROJECT / "domain.yml")
    ours_broker, rasas_broker = RecordingBroker(), RecordingBroker()
    ours = SQLTrackerStore(domain, event_broker=ours_broker, **store_settings(database_url))
    reference_url = f"sqlite:///{tmp_path / 'reference.db'}"
    rasas = RasaSQLTrackerStore(domain, event_broker=rasas_broker, **store_settings(reference_url))

    await converse(ours, domain)
    await converse(rasas, domain)

    def comparable(published: list[dict[str, Any]]) -> list[tuple]:
        return [(event["event"], event.get("text"), event.get("name")) for event in published]

    assert comparable(ours_broker.published) == comparable(rasas_broker.published)
    assert [event["event"] for event in ours_broker.published] == [
        "action", "session_started", "action", "user",  # first save
        "pause", "bot",  # second
        "action", "session_started", "user",  # third, a new session
    ]  # fmt: skip
    stored = await ours.retrieve_full_tracker("customer-1")
    assert [event.type_name for event in stored.events] == [
        event["event"] for event in ours_broker.published
    ]


async def test_saving_does_not_read_the_conversation_back(tmp_path, monkeypatch):
    domain = Domain.load(PROJECT / "domain.yml")
    broker = RecordingBroker()
    store = SQLTrackerStore(
        domain, event_broker=broker, dialect="sqlite", db=str(tmp_path / "t.db")
    )
    tracker = store.init_tracker("customer-2")
    tracker.update(UserUttered("你好", {"name": "greet", "confidence": 1.0}), domain)

    async def no_reads(*_: Any) -> None:
        raise AssertionError("save read the conversation back")

    monkeypatch.setattr(store, "retrieve", no_reads)
    await store.save(tracker)
    assert [event["text"] for event in broker.published] == ["你好"]


async def test_a_sqlite_file_stays_open_between_saves_and_a_dead_connection_is_replaced(
    database_url,
):
    """One connection for every save (SQLite), and none handed out dead:
    the pool checks before lending, so a restarted database costs nothing."""
    domain = Domain.load(PROJECT / "domain.yml")
    store = SQLTrackerStore(domain, **store_settings(database_url))
    opened: list[object] = []
    sqlalchemy.event.listen(store.engine, "connect", lambda dbapi, record: opened.append(dbapi))
    await converse(store, domain)
    assert len(opened) == 1
    with store.engine.connect() as connection:  # the server drops it
        connection.connection.dbapi_connection.close()
    tracker = await store.retrieve_full_tracker("customer-1")
    assert "hello again" in [e.text for e in tracker.events if isinstance(e, UserUttered)]
    assert len(opened) == 2  # the dead one was replaced, not lent


async def test_a_save_waits_for_an_unreachable_database_and_publishes_once(tmp_path, monkeypatch):
    domain = Domain.load(PROJECT / "domain.yml")
    broker = RecordingBroker()
    store = SQLTrackerStore(
        domain, event_broker=broker, dialect="sqlite", db=str(tmp_path / "t.db")
    )
    store_events = store._store_new_events
    failures = [sqlalchemy.exc.OperationalError("INSERT", {}, Exception("restarting"))] * 2

    async def flaky(tracker):
        if failures:
            raise failures.pop()
        return await store_events(tracker)

    monkeypatch.setattr(store, "_store_new_events", flaky)
    tracker = store.init_tracker("customer-3")
    tracker.update(UserUttered("在吗", {"name": "greet", "confidence": 1.0}), domain)
    await store.save(tracker)
    assert [event["text"] for event in broker.published] == ["在吗"]
    stored = await store.retrieve_full_tracker("customer-3")
    assert [e.text for e in stored.events if isinstance(e, UserUttered)] == ["在吗"]


def test_the_projects_endpoints_load_this_store(tmp_path):
    """Rasa falls back to an in-memory store, silently losing conversations,
    when a custom type does not import: the project's type must load."""
    settings = yaml.safe_load((PROJECT / "endpoints.yml").read_text())["tracker_store"]
    assert settings["type"] == "addons.tracker_store.SQLTrackerStore"
    settings["db"] = str(tmp_path / "tracker.db")
    store = create_tracker_store(EndpointConfig.from_dict(settings), Domain.empty())
    assert isinstance(store, SQLTrackerStore)


UNENCODABLE_SENDER = "customer-\ud800\x00"


async def test_a_sender_id_no_database_can_encode_is_stored_not_fatal(database_url):
    """Rasa's store took the UnicodeEncodeError of a lone surrogate (and
    PostgreSQL's refusal of NUL) for a missing schema and exited Rasa."""
    domain = Domain.load(PROJECT / "domain.yml")
    store = SQLTrackerStore(domain, **store_settings(database_url))
    tracker = store.init_tracker(UNENCODABLE_SENDER)
    intent = {"name": "greet\ud800" + "x" * 300, "confidence": 1.0}
    tracker.update(UserUttered("hi\ud800", intent), domain)

    await store.save(tracker)

    stored = await store.retrieve(UNENCODABLE_SENDER)
    assert [(e.text, e.intent_name) for e in stored.events] == [("hi\ud800", intent["name"])]
    assert await store.keys() == ["customer-\ufffd\ufffd"]
    with store.session_scope() as session:
        (row,) = session.query(store.SQLEvent).all()
    assert row.intent_name == ("greet\ufffd" + "x" * 300)[:255]


async def test_other_write_errors_propagate_and_rasa_keeps_running(tmp_path, monkeypatch):
    """A failing write is an error for Rasa's FailSafeTrackerStore to log,
    not a SystemExit, even when it is a ValueError."""
    store = SQLTrackerStore(Domain.empty(), dialect="sqlite", db=str(tmp_path / "t.db"))

    def broken(*_: Any, **__: Any) -> None:
        raise ValueError("the database said no")

    monkeypatch.setattr(store, "_additional_events", broken)
    with pytest.raises(ValueError, match="the database said no"):
        await store.save(store.init_tracker("customer-3"))


async def test_a_tracker_it_read_is_saved_without_counting_what_is_stored(
    database_url, monkeypatch
):
    """The store knows how many of a retrieved tracker's events it holds;
    saving the same tracker twice still stores each event once."""
    domain = Domain.load(PROJECT / "domain.yml")
    store = SQLTrackerStore(domain, **store_settings(database_url))
    await converse(store, domain)
    counted: list[str] = []
    count = store._additional_events
    monkeypatch.setattr(
        store, "_additional_events", lambda s, t: counted.append(t.sender_id) or count(s, t)
    )

    tracker = await store.retrieve("customer-1")
    tracker.update(BotUttered("欢迎回来"), domain)
    await store.save(tracker)
    tracker.update(UserUttered("谢谢", {"name": "thank", "confidence": 0.9}), domain)
    await store.save(tracker)

    assert counted == []
    stored = await store.retrieve_full_tracker("customer-1")
    texts = [e.text for e in stored.events if isinstance(e, UserUttered | BotUttered)]
    assert texts == ["我要转人工", "您好，我是客服小王", "hello again", "欢迎回来", "谢谢"]


async def test_a_save_retried_after_a_failed_commit_counts_what_got_stored(tmp_path, monkeypatch):
    domain = Domain.load(PROJECT / "domain.yml")
    store = SQLTrackerStore(domain, dialect="sqlite", db=str(tmp_path / "t.db"))
    await converse(store, domain)
    tracker = await store.retrieve("customer-1")
    tracker.update(BotUttered("欢迎回来"), domain)
    counted: list[str] = []
    count = store._additional_events
    monkeypatch.setattr(
        store, "_additional_events", lambda s, t: counted.append(t.sender_id) or count(s, t)
    )
    commit = sqlalchemy.orm.Session.commit
    failures = [sqlalchemy.exc.OperationalError("COMMIT", {}, Exception("connection lost"))]

    def failing_once(session: sqlalchemy.orm.Session) -> None:
        if failures:
            raise failures.pop()
        commit(session)

    monkeypatch.setattr(sqlalchemy.orm.Session, "commit", failing_once)
    await store.save(tracker)

    assert counted == ["customer-1"]  # the retry counted
    stored = await store.retrieve_full_tracker("customer-1")
    assert [e.text for e in stored.events if isinstance(e, BotUttered)] == [
        "您好，我是客服小王",
        "欢迎回来",
    ]
