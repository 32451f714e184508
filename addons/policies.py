"""Dialogue policies: Rasa's TED, without running its network twice on the
same dialogue state.

TED predicts the next action from the last turns' states: intents, entity
names, slots, the active loop and the previous action. Customers' dialogues
pass through the same few states again and again, and TED's network
answers the same state the same way, yet Rasa runs it for every prediction
(two to three a message), a fifth of a message's time in Rasa.
`CachingTEDPolicy` keeps the latest answers by state. A policy trained on
the text of messages (end-to-end stories) is not cached, since its answer
depends on more than the state.

config.yml:

    policies:
      - name: addons.policies.CachingTEDPolicy
        max_history: 5
"""

from __future__ import annotations

import json
from collections import OrderedDict
from typing import Any

from rasa.core.featurizers.precomputation import MessageContainerForCoreFeaturization
from rasa.core.policies.policy import PolicyPrediction, SupportedData
from rasa.core.policies.ted_policy import TEDPolicy
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.shared.core.domain import Domain
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import TEXT

# Distinct dialogue states remembered per Rasa process; a state's key is
# a few hundred bytes of JSON.
CACHED_STATES = 10_000


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.POLICY_WITH_END_TO_END_SUPPORT, is_trainable=True
)
class CachingTEDPolicy(TEDPolicy):
    """TED, answering a dialogue state it has seen from memory."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._predictions: OrderedDict[str, PolicyPrediction] = OrderedDict()

    def predict_action_probabilities(
        self,
        tracker: DialogueStateTracker,
        domain: Domain,
        rule_only_data: dict[str, Any] | None = None,
        precomputations: MessageContainerForCoreFeaturization | None = None,
        **kwargs: Any,
    ) -> PolicyPrediction:
        key = self._state_key(tracker, domain, rule_only_data)
        if key in self._predictions:
            self._predictions.move_to_end(key)
            return _copy(self._predictions[key])
        prediction = super().predict_action_probabilities(
            tracker, domain, rule_only_data, precomputations, **kwargs
        )
        if key is not None:
            self._predictions[key] = _copy(prediction)
            if len(self._predictions) > CACHED_STATES:
                self._predictions.popitem(last=False)
        return prediction

    def _state_key(
        self,
        tracker: DialogueStateTracker,
        domain: Domain,
        rule_only_data: dict[str, Any] | None,
    ) -> str | None:
        """The states TED's network sees, as `_featurize_for_prediction`
        computes them; None when its answer depends on more (no model yet,
        or a model trained on message text)."""
        if self.model is None or self.featurizer is None or TEXT in self.fake_features:
            return None
        ignore_ml_only = self.supported_data() == SupportedData.ML_DATA
        states = self.featurizer.prediction_states(
            [tracker],
            domain,
            use_text_for_last_user_input=False,
            ignore_rule_only_turns=ignore_ml_only,
            rule_only_data=rule_only_data,
            ignore_action_unlikely_intent=ignore_ml_only,
        )
        return json.dumps(states, sort_keys=True, ensure_ascii=False)


def _copy(prediction: PolicyPrediction) -> PolicyPrediction:
    """A copy the ensemble may change (it zeroes rejected actions' scores
    and appends events) without changing the remembered answer."""
    return PolicyPrediction(
        list(prediction.probabilities),
        prediction.policy_name,
        prediction.policy_priority,
        list(prediction.events),
        list(prediction.optional_events),
        prediction.is_end_to_end_prediction,
        prediction.is_no_user_prediction,
        prediction.diagnostic_data,
        prediction.hide_rule_turn,
        prediction.action_metadata,
    )
