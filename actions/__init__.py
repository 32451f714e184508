"""The rasa_sdk action server: order forms, FAQ answers, fallback and handoff."""
