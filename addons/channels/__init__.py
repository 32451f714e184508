"""Rasa's REST and socket.io channels with one inbound guard in front.

Register them by class path in credentials.yml (`addons.channels.rest.RestInput`,
`addons.channels.socketio.SocketIOInput`); each takes an optional `limits:`
mapping whose keys and defaults are `guard.ChannelLimits`. The guard itself
(`guard.py`) knows nothing of Sanic or Rasa, so it is tested on its own.
"""
