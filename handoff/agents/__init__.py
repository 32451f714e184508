"""Agents: who they are, what they can handle, and their console sessions."""
