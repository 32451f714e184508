"""Runs NLU components the way Rasa's training and prediction graphs do.

Each component is created, trained on the training data as the components
before it left it, stored, and loaded back from storage for prediction, so a
test exercises persistence too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.nlu.featurizers.featurizer import Featurizer
from rasa.nlu.tokenizers.tokenizer import Tokenizer
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.formats.rasa_yaml import RasaYAMLReader
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData


def training_data(yaml_text: str) -> TrainingData:
    return RasaYAMLReader().reads(yaml_text)


@dataclass
class MiniPipeline:
    storage_path: Path
    steps: list[tuple[type[GraphComponent], dict[str, Any]]]
    loaded: list[GraphComponent] = field(default_factory=list)

    def train(self, data: TrainingData) -> MiniPipeline:
        for index, (component_class, _) in enumerate(self.steps):
            component = component_class.create(*self._arguments(index))
            if hasattr(component, "train"):
                component.train(data)
            loaded = self.load_step(index)
            if isinstance(loaded, Tokenizer | Featurizer):
                data = loaded.process_training_data(data)
            self.loaded.append(loaded)
        return self

    def node_name(self, index: int) -> str:
        """Also the name of the step's resource: its directory in storage."""
        return f"{self.steps[index][0].__name__}{index}"

    def load_step(self, index: int, storage_path: Path | None = None) -> GraphComponent:
        """Step `index` loaded again, from where it was trained or from a copy."""
        return self.steps[index][0].load(*self._arguments(index, storage_path))

    def _arguments(
        self, index: int, storage_path: Path | None = None
    ) -> tuple[dict[str, Any], LocalModelStorage, Resource, ExecutionContext]:
        """What Rasa passes a step's `create` and `load`."""
        component_class, config = self.steps[index]
        return (
            {**component_class.get_default_config(), **config},
            LocalModelStorage(storage_path or self.storage_path),
            Resource(self.node_name(index)),
            ExecutionContext(GraphSchema({}), "test", node_name=self.node_name(index)),
        )

    def parse(self, text: str, **process_kwargs: Any) -> Message:
        message = Message(data={TEXT: text})
        for component in self.loaded:
            if process_kwargs and "tracker" in component.process.__code__.co_varnames:
                component.process([message], **process_kwargs)
            else:
                component.process([message])
        return message
