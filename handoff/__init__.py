"""The handoff bridge: tickets, the agent queue and routing, the agent console,
and the relay of messages between customers (through Rasa) and human agents."""
