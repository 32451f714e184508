"""Rasa's SQL tracker store without the extra read on every save.

With an event broker configured, Rasa 3.6's `TrackerStore.stream_events`
loads and replays the whole conversation session from the database on every
save, only to learn which events are new. Saving already counts the stored
events of the session to know what to insert; that count answers the same
question, so this store publishes the same events for one indexed COUNT
instead of a second full read. Everything else is Rasa's `SQLTrackerStore`:
the same tables, dialects and settings, so the analytics read it unchanged.

endpoints.yml:

    tracker_store:
      type: addons.tracker_store.SQLTrackerStore
      dialect: sqlite            # or postgresql, with url/port/username/password
      db: var/tracker.db
"""

from __future__ import annotations

from rasa.core import tracker_store
from rasa.shared.core.trackers import DialogueStateTracker

from addons import rasa_fixes

rasa_fixes.apply()


class SQLTrackerStore(tracker_store.SQLTrackerStore):
    async def stream_events(self, tracker: DialogueStateTracker) -> None:
        if self.event_broker is None:
            return
        with self.session_scope() as session:
            new_events = list(self._additional_events(session, tracker))
        await self._stream_new_events(self.event_broker, new_events, tracker.sender_id)
