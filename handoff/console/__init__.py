"""The agent console: sign-in, the page itself, and its live websocket."""
