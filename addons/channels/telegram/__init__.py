"""Telegram: a small Bot API client (`api.py`), the reading of updates and
keyboards (`updates.py`), and the thin Rasa connector (`connector.py`), the
only module here that imports rasa or sanic.

We speak the Bot API with aiohttp rather than through aiogram 2.15 (which
Rasa 3.6 pins): its `Bot` owns a session bound to the loop it was made on
and its types need a bot context, while we need five methods, a
configurable base URL for the loopback fake, and errors we can put in
plain words for the agent.
"""
