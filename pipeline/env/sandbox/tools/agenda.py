"""Agenda Calendar: the sandbox user's events, with create, update, delete and free-slot search.

Times are UTC. Seeded events surround the sandbox's today so that listing, conflicts and free
slots are meaningful from the first call.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, ClassVar

from ..core import Call, Counter, Handler, Reply, fold, seeded
from ..errors import bad_request, not_found
from ..names import email_for, person_name
from ..pagination import slice_of
from ..world import NOW_ISO, TODAY

EVENT_TITLES = (
    ("Team standup", "Video call"),
    ("Project review", "Room 4.12"),
    ("1:1 with {name}", "Room 2.03"),
    ("Lunch with {name}", "Café Central"),
    ("Dentist appointment", "Smile Dental Clinic"),
    ("Quarterly planning", "Board room"),
    ("Yoga class", "City Gym"),
    ("Customer call: Northwind", "Video call"),
    ("Design workshop", "Studio B"),
    ("Interview: backend engineer", "Room 3.01"),
)
SEEDED_EVENTS = 16
MAX_DURATION = timedelta(days=14)


def _parse(moment: str) -> datetime:
    return datetime.fromisoformat(moment).astimezone(UTC)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class CalendarTool:
    # what the handlers change: each client session works on its own copy (see sandbox/sessions.py)
    STATE: ClassVar[tuple[str, ...]] = ("events", "_ids")

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.events: dict[str, dict[str, Any]] = {}
        self._ids = Counter("evt-", 1, width=4)
        self._seed_events()

    def handlers(self) -> Mapping[str, Handler]:
        return {
            "listEvents": self.list_events,
            "createEvent": self.create_event,
            "getEvent": self.get_event,
            "updateEvent": self.update_event,
            "deleteEvent": self.delete_event,
            "findFreeSlots": self.free_slots,
        }

    def list_events(self, call: Call) -> Any:
        start = date.fromisoformat(call["start_date"]) if call.get("start_date") else TODAY
        end = date.fromisoformat(call["end_date"]) if call.get("end_date") else start + timedelta(days=7)
        if end < start:
            raise bad_request("end_date must not be before start_date.", param="end_date")
        window_start = datetime.combine(start, time(), tzinfo=UTC)
        window_end = datetime.combine(end + timedelta(days=1), time(), tzinfo=UTC)
        found = [
            e
            for e in self.events.values()
            if _parse(e["start"]) < window_end and _parse(e["end"]) > window_start
        ]
        if call.get("q"):
            needle = fold(call["q"])
            found = [
                e
                for e in found
                if needle in fold(f"{e['title']} {e.get('location', '')} {e.get('description', '')}")
            ]
        found.sort(key=lambda e: e["start"])
        return slice_of(found, call)

    def create_event(self, call: Call) -> Any:
        event: dict[str, Any] = {
            "id": self._ids.next_id(),
            "attendees": [],
            "description": "",
            "location": "",
        }
        event.update({k: v for k, v in call.body.items()})
        self._normalise(event)
        event["created_at"] = NOW_ISO
        self.events[event["id"]] = event
        return Reply(event, status=201)

    def get_event(self, call: Call) -> Any:
        return self._event(call["event_id"])

    def update_event(self, call: Call) -> Any:
        event = dict(self._event(call["event_id"]))
        event.update(call.body)
        self._normalise(event)
        self.events[event["id"]] = event
        return event

    def delete_event(self, call: Call) -> Any:
        event = self._event(call["event_id"])
        del self.events[event["id"]]
        return {"deleted": True, "event_id": event["id"]}

    def free_slots(self, call: Call) -> Any:
        day = date.fromisoformat(call["date"])
        day_start = datetime.combine(day, time.fromisoformat(call["day_start"]), tzinfo=UTC)
        day_end = datetime.combine(day, time.fromisoformat(call["day_end"]), tzinfo=UTC)
        if day_end <= day_start:
            raise bad_request("day_end must be after day_start.", param="day_end")
        need = timedelta(minutes=call["duration_minutes"])
        busy = sorted((_parse(e["start"]), _parse(e["end"])) for e in self.events.values())
        slots, cursor = [], day_start
        for start, end in busy:
            if end <= cursor or start >= day_end:
                continue
            if start - cursor >= need:
                slots.append({"start": _iso(cursor), "end": _iso(start)})
            cursor = max(cursor, end)
        if day_end - cursor >= need:
            slots.append({"start": _iso(cursor), "end": _iso(day_end)})
        return {"date": day.isoformat(), "duration_minutes": call["duration_minutes"], "slots": slots}

    def _normalise(self, event: dict[str, Any]) -> None:
        start, end = _parse(event["start"]), _parse(event["end"])
        if end <= start:
            raise bad_request("end must be after start.", param="end")
        if end - start > MAX_DURATION:
            raise bad_request("An event can last at most 14 days.", param="end")
        event["start"], event["end"] = _iso(start), _iso(end)
        event["duration_minutes"] = int((end - start).total_seconds() // 60)

    def _event(self, event_id: str) -> dict[str, Any]:
        event = self.events.get(event_id)
        if event is None:
            raise not_found("event", event_id, param="event_id")
        return event

    def _seed_events(self) -> None:
        rng = seeded(self.seed, "calendar")
        moments = []
        for _ in range(SEEDED_EVENTS):
            day = TODAY + timedelta(days=rng.randint(-5, 20))
            while day.weekday() >= 5:
                day += timedelta(days=1)
            start = datetime.combine(day, time(rng.randint(8, 16), rng.choice((0, 30))), tzinfo=UTC)
            moments.append((start, start + timedelta(minutes=rng.choice((30, 45, 60, 90)))))
        for start, end in sorted(moments):
            name = person_name(rng)
            title, location = rng.choice(EVENT_TITLES)
            event: dict[str, Any] = {
                "id": self._ids.next_id(),
                "title": title.format(name=name.split()[0]),
                "start": _iso(start),
                "end": _iso(end),
                "location": location,
                "description": "",
                "attendees": [email_for(name)] if "{name}" in title or rng.random() < 0.4 else [],
                "created_at": "2025-05-20T08:00:00Z",
            }
            self._normalise(event)
            self.events[event["id"]] = event
