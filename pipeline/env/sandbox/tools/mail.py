"""PostBox Mail: the sandbox user's mailbox (alex.morgan@example.com) and address book.

The inbox and contacts are seeded; sent and scheduled mail is kept per server, so an agent
can send a message and then find it in the sent folder.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from ..core import Call, Counter, Handler, Reply, fold, seeded
from ..errors import conflict, not_found
from ..names import FIRST_NAMES, LAST_NAMES, phone_number
from ..pagination import page_of, slice_of
from ..world import CITIES, NOW_ISO, TODAY

OWNER = "alex.morgan@example.com"
COMPANIES = ("Northwind", "Bluepeak", "Helios Labs", "Orchid Studio", "Tidewater", "Granite & Co")
CONTACT_COUNT = 20
INBOX_COUNT = 24
SNIPPET_LENGTH = 90
WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday")
TEMPLATES = (
    (
        "Lunch on {weekday}?",
        "Hi Alex,\n\nAre you free for lunch on {weekday}? There is a new {cuisine} place near the office.\n\nBest,\n{first}",
    ),
    (
        "Q3 budget review",
        "Hi Alex,\n\nThe draft Q3 budget is ready. Could you review it before Friday and flag anything that looks off?\n\nThanks,\n{first}",
    ),
    (
        "Trip to {city}",
        "Hi Alex,\n\nI will be in {city} next month for the partner summit. Do you have any hotel recommendations?\n\nCheers,\n{first}",
    ),
    (
        "Project kickoff",
        "Hello Alex,\n\nCan we schedule the project kickoff for next week? I am free on {weekday} morning.\n\nRegards,\n{first}",
    ),
    (
        "Slides for the all-hands",
        "Hi Alex,\n\nAttached are my slides for the all-hands. Happy to take comments until {weekday}.\n\n{first}",
    ),
    (
        "Dinner reservation",
        "Hi Alex,\n\nI booked a table for four at a {cuisine} restaurant on {weekday} at 19:30. Let me know if that works.\n\n{first}",
    ),
    (
        "Invoice {number}",
        "Dear Alex,\n\nPlease find invoice {number} for May attached. Payment is due within 30 days.\n\nKind regards,\n{first} {last}\n{company}",
    ),
)


class MailTool:
    # what the handlers change: each client session works on its own copy (see sandbox/sessions.py)
    STATE: ClassVar[tuple[str, ...]] = ("contacts", "messages", "_contact_ids", "_message_ids")

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.contacts: dict[str, dict[str, Any]] = {}
        self.messages: dict[str, dict[str, Any]] = {}
        self._contact_ids = Counter("ct-", 1, width=3)
        self._message_ids = Counter("msg-", 1)
        self._seed_mailbox()

    def handlers(self) -> Mapping[str, Handler]:
        return {
            "sendEmail": self.send,
            "listMessages": self.list_messages,
            "getMessage": self.get_message,
            "searchContacts": self.search_contacts,
            "createContact": self.create_contact,
        }

    def send(self, call: Call) -> Any:
        body = call.body
        send_at = body.get("send_at")
        scheduled = send_at is not None and datetime.fromisoformat(send_at) > datetime.fromisoformat(NOW_ISO)
        message = self._store(
            folder="scheduled" if scheduled else "sent",
            sender=OWNER,
            to=body["to"],
            cc=body.get("cc", []),
            subject=body["subject"],
            text=body["body"],
            date=send_at if scheduled else NOW_ISO,
            read=True,
        )
        return Reply({**message, "status": "scheduled" if scheduled else "sent"}, status=201)

    def list_messages(self, call: Call) -> Any:
        found = [m for m in self.messages.values() if m["folder"] == call["folder"]]
        if call.get("q"):
            words = fold(call["q"]).split()
            found = [
                m
                for m in found
                if all(
                    w in fold(f"{m['subject']} {m['body']} {m['from']} {' '.join(m['to'])}") for w in words
                )
            ]
        if call.get("unread_only"):
            found = [m for m in found if not m["read"]]
        found.sort(key=lambda m: m["date"], reverse=True)
        return page_of([self._summary(m) for m in found], call)

    def get_message(self, call: Call) -> Any:
        message = self.messages.get(call["message_id"])
        if message is None:
            raise not_found("message", call["message_id"], param="message_id")
        message["read"] = True
        return message

    def search_contacts(self, call: Call) -> Any:
        found = list(self.contacts.values())
        if call.get("q"):
            needle = fold(call["q"])
            found = [c for c in found if needle in fold(f"{c['name']} {c['email']} {c.get('company', '')}")]
        found.sort(key=lambda c: c["name"])
        return slice_of(found, call)

    def create_contact(self, call: Call) -> Any:
        body = call.body
        email = body["email"].lower()
        if any(c["email"] == email for c in self.contacts.values()):
            raise conflict(f"A contact with email {email} already exists.", param="email")
        contact = {"id": self._contact_ids.next_id(), "name": body["name"], "email": email}
        for key in ("phone", "company"):
            if body.get(key):
                contact[key] = body[key]
        self.contacts[contact["id"]] = contact
        return Reply(contact, status=201)

    def _seed_mailbox(self) -> None:
        rng = seeded(self.seed, "mailbox")
        names = rng.sample([(first, last) for first in FIRST_NAMES for last in LAST_NAMES], CONTACT_COUNT)
        for first, last in names:
            company = rng.choice(COMPANIES)
            domain = "".join(ch for ch in fold(company) if ch.isalnum()) + ".example"
            local = "".join(ch for ch in fold(f"{first}.{last}") if ch.isalnum() or ch == ".")
            contact = {
                "id": self._contact_ids.next_id(),
                "name": f"{first} {last}",
                "email": f"{local}@{domain}",
                "phone": phone_number(rng, "+1"),
                "company": company,
            }
            self.contacts[contact["id"]] = contact
        contacts = list(self.contacts.values())
        received = []
        for _ in range(INBOX_COUNT):
            sender = rng.choice(contacts)
            first, last = sender["name"].split(" ", 1)
            subject, text = rng.choice(TEMPLATES)
            fields = {
                "weekday": rng.choice(WEEKDAY_NAMES),
                "city": rng.choice(list(CITIES.values())).name,
                "cuisine": rng.choice(("Italian", "Japanese", "Mexican", "Lebanese", "Thai")),
                "first": first,
                "last": last,
                "company": sender["company"],
                "number": f"INV-{rng.randint(2000, 9999)}",
            }
            moment = datetime.combine(TODAY, datetime.min.time(), tzinfo=UTC) - timedelta(
                minutes=rng.randint(60, 30 * 24 * 60)
            )
            received.append(
                (moment, sender, subject.format(**fields), text.format(**fields), rng.random() < 0.7)
            )
        for moment, sender, subject, text, read in sorted(received, key=lambda item: item[0]):
            self._store(
                "inbox",
                sender["email"],
                [OWNER],
                [],
                subject,
                text,
                moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
                read,
            )

    def _store(
        self,
        folder: str,
        sender: str,
        to: list[str],
        cc: list[str],
        subject: str,
        text: str,
        date: str,
        read: bool,
    ) -> dict[str, Any]:
        message: dict[str, Any] = {
            "id": self._message_ids.next_id(),
            "folder": folder,
            "from": sender,
            "to": list(to),
            "cc": list(cc),
            "subject": subject,
            "body": text,
            "date": date,
            "read": read,
        }
        self.messages[message["id"]] = message
        return message

    def _summary(self, message: dict[str, Any]) -> dict[str, Any]:
        snippet = " ".join(message["body"].split())
        return {
            "id": message["id"],
            "folder": message["folder"],
            "from": message["from"],
            "to": message["to"],
            "subject": message["subject"],
            "snippet": snippet[:SNIPPET_LENGTH] + ("…" if len(snippet) > SNIPPET_LENGTH else ""),
            "date": message["date"],
            "read": message["read"],
        }
