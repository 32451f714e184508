"""Schemathesis against the OpenAPI document a real bridge serves: whatever a
caller sends, valid or not (negative tests), the bridge answers with a status
its document lists for the operation, never a 5xx, and with the documented
content type.

It runs as a machine client with the API token, as a signed-in admin and as
a stranger with whatever credentials schemathesis makes up. Examples are
derandomized (the same requests on every run) and bounded per operation, so
the test takes well under a minute on a 2-core machine."""

from __future__ import annotations

import asyncio
import os
import re
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
import schemathesis
from aiohttp import web
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import DataGenerationMethod
from schemathesis.checks import not_a_server_error
from schemathesis.exceptions import CheckFailed
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from handoff.agents import service as agents
from handoff.agents.enums import AgentRole
from handoff.app import create_app
from handoff.app_keys import DATABASE
from handoff.settings import Settings
from handoff.web import SESSION_COOKIE
from tests.handoff.conftest import API_TOKEN, PASSWORD, RASA_TOKEN, FakeRasa

# Per operation and caller, positive and negative cases together (about 25
# operations x 3 callers); more for a deeper search on a developer's machine.
EXAMPLES = int(os.environ.get("HANDOFF_SCHEMATHESIS_EXAMPLES", "20"))
CHECKS = (
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
)
# Bytes no HTTP field value may hold (RFC 9110 5.5): aiohttp's parser
# answers such a request with a plain-text 400 before the bridge sees it.
NOT_IN_A_FIELD_VALUE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


@dataclass
class LiveBridge:
    url: str

    def sign_in(self) -> str:
        """A new admin session's cookie value."""
        response = requests.post(
            f"{self.url}/api/session",
            json={"username": "admin", "password": PASSWORD},
            timeout=10,
        )
        response.raise_for_status()
        return response.cookies[SESSION_COOKIE]


@pytest.fixture
def live_bridge(database_url: str, tmp_path: Path) -> Iterator[LiveBridge]:
    """A bridge and a fake Rasa on loopback ports, on an event loop in a
    thread of their own: schemathesis calls them with blocking HTTP."""
    loop = asyncio.new_event_loop()
    runners: list[web.AppRunner] = []

    async def start() -> LiveBridge:
        rasa = FakeRasa()
        rasa_runner = web.AppRunner(rasa.app())
        await rasa_runner.setup()
        runners.append(rasa_runner)
        await web.TCPSite(rasa_runner, "127.0.0.1", 0).start()
        rasa.url = f"http://127.0.0.1:{rasa_runner.addresses[0][1]}"
        app = create_app(
            Settings(
                database_url=database_url,
                api_token=API_TOKEN,
                rasa_url=rasa.url,
                rasa_token=RASA_TOKEN,
                demo_agents=False,
                attachments_dir=tmp_path / "attachments",
                login_failures_per_address=10**6,
                login_failures_per_account=10**6,
            )
        )
        runner = web.AppRunner(app)
        await runner.setup()
        runners.insert(0, runner)
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        async with app[DATABASE].transaction() as db:
            await agents.create(db, username="admin", password=PASSWORD, role=AgentRole.ADMIN)
        return LiveBridge(url=f"http://127.0.0.1:{runner.addresses[0][1]}")

    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield asyncio.run_coroutine_threadsafe(start(), loop).result(60)
    finally:
        for runner in runners:
            asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)


def authenticate(case: schemathesis.Case, caller: str, bridge: LiveBridge, cookie: str) -> None:
    """Puts the caller's credentials on a generated case; the stranger keeps
    the Authorization header and session cookie schemathesis made up."""
    headers = dict(case.headers or {})
    match caller:
        case "api_token":
            case.headers = {**headers, "Authorization": f"Bearer {API_TOKEN}"}
        case "admin":
            headers.pop("Authorization", None)  # a made-up Bearer token wins over a cookie
            case.headers = headers
            # Signing out ends a session: that case gets one of its own.
            signs_out = case.method == "DELETE" and case.path == "/api/session"
            session = bridge.sign_in() if signs_out else cookie
            case.cookies = {**(case.cookies or {}), SESSION_COOKIE: session}


def checks_for(case: schemathesis.Case) -> tuple:
    """All the checks, but for a request that is not valid HTTP only that it
    gets no 5xx: its 400 comes from aiohttp, not from the bridge's document."""
    fields = [*(case.headers or {}).values(), *(case.cookies or {}).values()]
    if any(NOT_IN_A_FIELD_VALUE.search(str(value)) for value in fields):
        return (not_a_server_error,)
    return CHECKS


# PostgreSQL refuses values (NUL in text) that SQLite takes.
@pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)
@pytest.mark.parametrize("caller", ["api_token", "admin", "stranger"])
@pytest.mark.timeout(180)
def test_no_request_gets_a_5xx_or_an_undocumented_answer(
    live_bridge: LiveBridge, caller: str
) -> None:
    schema = schemathesis.from_uri(
        f"{live_bridge.url}/api/openapi.yaml",
        base_url=live_bridge.url,
        data_generation_methods=[DataGenerationMethod.positive, DataGenerationMethod.negative],
    )
    cookie = live_bridge.sign_in()
    failures: list[str] = []
    statuses: Counter[int] = Counter()
    session = requests.Session()

    for result in schema.get_all_operations():
        operation = result.ok()

        @settings(
            max_examples=EXAMPLES,
            derandomize=True,
            deadline=None,
            database=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy())
        def check(case: schemathesis.Case) -> None:
            authenticate(case, caller, live_bridge, cookie)
            response = case.call(session=session, timeout=10, allow_redirects=False)
            statuses[response.status_code] += 1
            session.cookies.clear()  # a sign-in's cookie is not the next case's
            try:
                case.validate_response(response, checks=checks_for(case))
            except CheckFailed as error:
                failures.append(
                    f"{case.method} {case.path} -> {response.status_code}"
                    f" {response.text[:160]}\n  {case.formatted_path} query={case.query}"
                    f" body={case.body!r:.200}\n  {str(error).strip().splitlines()[:4]}"
                )

        check()
    assert not failures, f"{len(failures)} failures:\n" + "\n\n".join(failures[:20])
    if caller != "stranger":  # the credentials worked: some calls got through
        assert sum(n for status, n in statuses.items() if status < 300) > EXAMPLES, statuses
