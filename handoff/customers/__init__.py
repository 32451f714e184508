"""One customer across channels, recognised by verified identities."""
