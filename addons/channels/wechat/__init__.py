"""The WeChat Official Account (公众号) channel, in wechatpy's layers.

`crypto` checks signatures and opens safe-mode envelopes, `parser` reads
WeChat's XML with no entities and within a size, `replies` turns the bot's
messages into WeChat text (passive replies, numbered button options),
`client` speaks the customer-service message API (客服消息) with a cached
access token. None of them imports sanic or rasa; `connector` is the thin
Rasa input channel on top (`addons.channels.wechat.connector.WeChatInput`).
"""
