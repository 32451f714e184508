"""Tickets: the record of every customer problem a human looks at."""
