"""Reports for analysts over Rasa's tracker store and the bridge's tickets."""
