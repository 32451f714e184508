"""The e-mail channel: customers write to the support address and get the
bot's and agents' answers by mail, in the same thread.

Layers, none of which imports rasa or sanic except the connector:
`parser.py` (MIME to `InboundMail`), `text.py` (HTML to text, quoted
history stripped), `attachments.py` (what files are kept), `threads.py`
(the SQLite store of conversations and Message-IDs), `composer.py` (reply
mails, numbered options), `relay.py` (sending through the SMTP relay),
`receiver.py` (the aiosmtpd server) and `connector.py` (the Rasa channel).
"""
