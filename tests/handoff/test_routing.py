"""Who gets a waiting conversation, and how long a customer will wait:
`handoff/routing.py` on plain objects."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import pytest

from handoff.agents.models import Agent
from handoff.routing import AgentRouter, estimated_wait_seconds


@dataclass
class Person:
    id: int
    role: str = "agent"
    presence: str = "online"
    capacity: int = 3
    skills: list[str] = field(default_factory=list)
    languages: list[str] = field(default_factory=lambda: ["zh", "en"])
    last_assigned_at: datetime | None = None

    # The real rule, so the skill and language tests test it.
    can_handle = Agent.can_handle


@dataclass
class Waiting:
    skill_group: str = "general"
    language: str = "zh"
    skipped_agent_ids: list[int] | None = None


def at(hour: int) -> datetime:
    return datetime(2026, 11, 21, hour)


def chosen(ticket: Waiting, agents: list[Person], active: dict[int, int] | None = None):
    agent = AgentRouter(active=active or {}).assign(ticket, agents)
    return None if agent is None else agent.id


def test_nobody_to_choose_from():
    assert chosen(Waiting(), []) is None


def test_only_the_right_skill():
    agents = [Person(1, skills=["technical"]), Person(2, skills=["after_sales", "technical"])]
    assert chosen(Waiting(skill_group="after_sales"), agents) == 2
    assert chosen(Waiting(skill_group="complaint"), agents) is None


def test_no_skills_means_every_skill():
    assert chosen(Waiting(skill_group="complaint"), [Person(1)]) == 1


def test_only_the_right_language():
    agents = [Person(1, languages=["en"]), Person(2, languages=["zh"])]
    assert chosen(Waiting(language="zh"), agents) == 2
    assert chosen(Waiting(language="en"), agents) == 1
    assert chosen(Waiting(language="zh"), agents[:1]) is None


def test_both_skill_and_language_must_match():
    agents = [Person(1, skills=["technical"], languages=["en"]), Person(2, languages=["en"])]
    assert chosen(Waiting(skill_group="technical", language="zh"), agents) is None
    assert chosen(Waiting(skill_group="after_sales", language="en"), agents) == 2


@pytest.mark.parametrize("presence", ["away", "offline"])
def test_only_online_agents(presence):
    assert chosen(Waiting(), [Person(1, presence=presence)]) is None
    assert chosen(Waiting(), [Person(1, presence=presence), Person(2)]) == 2


def test_analysts_never_take_conversations_but_admins_may():
    assert chosen(Waiting(), [Person(1, role="analyst")]) is None
    assert chosen(Waiting(), [Person(1, role="analyst"), Person(2, role="admin")]) == 2


def test_capacity_is_a_hard_limit():
    agents = [Person(1, capacity=2), Person(2, capacity=1)]
    assert chosen(Waiting(), agents, {1: 2, 2: 1}) is None
    assert chosen(Waiting(), agents, {1: 1, 2: 1}) == 1


def test_skipped_agents_are_passed_over():
    agents = [Person(1), Person(2)]
    assert chosen(Waiting(skipped_agent_ids=[1]), agents) == 2
    assert chosen(Waiting(skipped_agent_ids=[1, 2]), agents) is None


def test_fewest_active_conversations_first():
    agents = [Person(1), Person(2), Person(3)]
    assert chosen(Waiting(), agents, {1: 2, 2: 0, 3: 1}) == 2
    assert chosen(Waiting(), agents, {1: 1, 2: 2, 3: 1}) in (1, 3)


def test_ties_go_to_whoever_waited_longest_for_a_conversation():
    agents = [
        Person(1, last_assigned_at=at(10)),
        Person(2, last_assigned_at=at(9)),
        Person(3, last_assigned_at=at(11)),
    ]
    assert chosen(Waiting(), agents) == 2
    # never assigned beats everybody
    assert chosen(Waiting(), [*agents, Person(4)]) == 4
    # load still comes first
    assert chosen(Waiting(), agents, {2: 1}) == 1


def test_the_choice_is_stable_for_equal_agents():
    assert chosen(Waiting(), [Person(5), Person(3), Person(4)]) == 3


def test_the_router_does_not_change_what_it_is_given():
    agents = [Person(1), Person(2)]
    active = {1: 1}
    AgentRouter(active=active).assign(Waiting(skipped_agent_ids=[2]), agents)
    assert active == {1: 1} and agents == [Person(1), Person(2)]


@pytest.mark.parametrize(
    ("position", "agents", "handling", "expected"),
    [
        (0, 1, 300, 0),  # already with an agent
        (1, 0, 300, 0),  # nobody able: the estimate is meaningless, so none
        (1, 1, 300, 30),  # next in line with a free agent
        (1, 3, 300, 30),
        (2, 1, 300, 330),  # one conversation ahead
        (3, 2, 300, 330),  # two agents clear two at a time
        (4, 2, 300, 330),
        (5, 2, 300, 630),
        (3, 1, 90.4, 211),  # rounded to whole seconds
    ],
)
def test_estimated_wait(position, agents, handling, expected):
    assert estimated_wait_seconds(position, agents, handling) == expected


def test_the_wait_never_shrinks_as_the_queue_grows():
    waits = [estimated_wait_seconds(position, 3, 240) for position in range(1, 30)]
    assert waits == sorted(waits)
