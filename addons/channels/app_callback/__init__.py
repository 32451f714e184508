"""Apps (a shop's iOS/Android app, a mini-program's server) as a channel:
the app POSTs its customers' messages to Rasa, signed, and gets the bot's
and agents' messages POSTed back to its registered callback URL, signed the
same way and retried with backoff.

`signing.py` (the signature both ways) and `delivery.py` (the callback
POSTs) import no rasa or sanic; `connector.py` is the thin Rasa channel.
"""
