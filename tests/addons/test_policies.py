"""CachingTEDPolicy answers a dialogue state it has seen without TED's
network, exactly as the network would."""

from __future__ import annotations

import pytest
from rasa.core.policies.ted_policy import TEDPolicy
from rasa.shared.core.events import ActionExecuted, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from addons.policies import CachingTEDPolicy


@pytest.fixture(scope="module")
def policy(nlu_agent) -> CachingTEDPolicy:
    nodes = nlu_agent.processor.graph_runner._instantiated_nodes.values()
    [ted] = [n._component for n in nodes if isinstance(n._component, CachingTEDPolicy)]
    return ted


def tracker_after(nlu_agent, *intents: str) -> DialogueStateTracker:
    """A conversation where the customer said `intents` and the bot greeted
    after each but the last."""
    events = []
    for intent in intents:
        if events:
            events.append(ActionExecuted("utter_greet"))
        events += [ActionExecuted("action_listen"), UserUttered("…", {"name": intent})]
    return DialogueStateTracker.from_events("customer", events, nlu_agent.domain.slots)


def probabilities(prediction) -> list[float]:
    return list(prediction.probabilities)


def test_a_seen_state_is_answered_from_memory_as_the_network_answers(
    policy, nlu_agent, monkeypatch
):
    domain = nlu_agent.domain
    greeting = tracker_after(nlu_agent, "greet")
    network = TEDPolicy.predict_action_probabilities(policy, greeting, domain)
    first = policy.predict_action_probabilities(greeting, domain)
    assert probabilities(first) == probabilities(network)

    def no_network(*_: object) -> None:
        raise AssertionError("TED's network ran for a state it has seen")

    monkeypatch.setattr(policy.model, "run_inference", no_network)
    # Another customer in the same state; the ensemble changes what it gets.
    first.probabilities[0] = 42.0
    first.events.append(ActionExecuted("action_listen"))
    again = policy.predict_action_probabilities(tracker_after(nlu_agent, "greet"), domain)
    assert probabilities(again) == probabilities(network)
    assert again.events == []
    assert again.policy_name == network.policy_name


def test_another_state_runs_the_network(policy, nlu_agent, monkeypatch):
    domain = nlu_agent.domain
    runs: list[object] = []
    run = policy.model.run_inference
    monkeypatch.setattr(policy.model, "run_inference", lambda data: runs.append(data) or run(data))

    policy.predict_action_probabilities(tracker_after(nlu_agent, "goodbye"), domain)
    policy.predict_action_probabilities(tracker_after(nlu_agent, "goodbye"), domain)
    assert len(runs) == 1
    policy.predict_action_probabilities(tracker_after(nlu_agent, "greet", "goodbye"), domain)
    assert len(runs) == 2
