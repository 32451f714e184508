"""The bridge's credentials for Rasa's API: a short-lived JWT in a header,
as Rasa started with `--jwt-secret` checks it, never the secret itself."""

from __future__ import annotations

import jwt
import pytest

from handoff import rasa
from handoff.rasa import RasaCredentials

SECRET = "a-secret-long-enough-for-hs256-keys"


def decoded(headers: dict[str, str]) -> dict:
    scheme, _, token = headers["Authorization"].partition(" ")
    assert scheme == "Bearer" and SECRET not in token
    return jwt.decode(token, SECRET, algorithms=["HS256"], options={"verify_exp": False})


def test_the_jwt_grants_rasas_admin_role_for_minutes(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(rasa.time, "time", lambda: 1_000_000.0)
    payload = decoded(RasaCredentials(SECRET).headers())
    assert payload["user"] == {"username": "handoff-bridge", "role": "admin"}
    assert payload["exp"] == 1_000_000 + RasaCredentials.LIFETIME_SECONDS


def test_the_jwt_is_reused_then_renewed_before_it_expires(monkeypatch: pytest.MonkeyPatch):
    now = [1_000_000.0]
    monkeypatch.setattr(rasa.time, "time", lambda: now[0])
    credentials = RasaCredentials(SECRET)
    first = credentials.headers()
    now[0] += RasaCredentials.LIFETIME_SECONDS - RasaCredentials.RENEW_BEFORE_SECONDS - 1
    assert credentials.headers() == first
    now[0] += 2
    renewed = credentials.headers()
    assert renewed != first and decoded(renewed)["exp"] > decoded(first)["exp"]


def test_without_a_secret_nothing_is_sent():
    assert RasaCredentials("").headers() == {}
