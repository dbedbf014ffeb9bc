"""Messages to the staff group chat: new cases, drafts to approve, task assignments, reminders
and escalations.

The group sees a case's reference, kind and due date, never who asked or what they wrote. Each
message is an outbox row (channel "telegram"), so it is retried like mail and survives a
restart. Many at once (a batch of new mail, the first sweep after an outage) become one message
with a list: a Telegram group takes about twenty messages a minute. Without a staff chat
configured nothing is queued.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from dsr_bot.config import Settings
from dsr_bot.domain.outgoing import new_message_id
from dsr_bot.domain.wording import DRAFT_KIND_NL
from dsr_bot.replies import Replies
from dsr_bot.store import queries

Row = dict[str, Any]
APPROVE = "approve:"  # callback data of the Approve button: "approve:<draft id>"
LIMIT = 20  # lines in one message; the rest is counted


class StaffChat:
    def __init__(self, settings: Settings, replies: Replies) -> None:
        telegram = settings.telegram
        self.chat_id = telegram.staff_chat_id if telegram.enabled else 0
        self._settings = settings
        self._replies = replies
        self._domain = settings.mail.from_address.split("@", 1)[1]
        # Telegram refuses URL buttons it cannot open, so links only to a console on the web.
        self._console = settings.console.public_url

    @property
    def enabled(self) -> bool:
        return self.chat_id != 0

    def new_cases(self, cases: Sequence[Row], now: datetime) -> list[Row]:
        """One message for a batch of new cases (rows as the pipeline writes them)."""
        if not self.enabled or not cases:
            return []
        listed = [
            {
                "reference": c["reference"],
                "kinds": list(c["kinds"]) if c["state"] == "open" else [],
                "channel": c["channel"],
                "due": c["promise_due"],
            }
            for c in cases
        ]
        text = self._replies.text("staff_new_cases", "nl", cases=listed, limit=LIMIT)
        single = cases[0] if len(cases) == 1 else None
        return [
            self._row(
                case_id=int(single["id"]) if single else None,
                reference=str(single["reference"]) if single else "cases",
                kind="staff_chat_new_case",
                text=text,
                buttons=self._link(str(single["reference"]) if single else None),
                now=now,
            )
        ]

    def draft(
        self, *, draft_id: int, case_id: int, reference: str, kind: str, author: str, now: datetime
    ) -> Row | None:
        """A draft waiting for approval, with an Approve button and a link to read it first."""
        if not self.enabled:
            return None
        text = self._replies.text(
            "staff_draft",
            "nl",
            reference=reference,
            kind_name=DRAFT_KIND_NL.get(kind, kind),
            author=author,
        )
        approve = {"text": "Goedkeuren", "data": f"{APPROVE}{draft_id}"}
        buttons = [[approve], *self._link(reference)]
        return self._row(
            case_id=case_id,
            reference=reference,
            kind="staff_chat_draft",
            text=text,
            buttons=buttons,
            now=now,
        )

    def task(
        self,
        *,
        case_id: int,
        reference: str,
        title: str,
        assignee: str,
        assigned_by: str,
        now: datetime,
    ) -> Row | None:
        if not self.enabled:
            return None
        text = self._replies.text(
            "staff_task",
            "nl",
            reference=reference,
            title=title,
            assignee=assignee,
            assigned_by=assigned_by,
        )
        return self._row(
            case_id=case_id,
            reference=reference,
            kind="staff_chat_task",
            text=text,
            buttons=self._link(reference),
            now=now,
        )

    def notices(self, notices: Sequence[Row], now: datetime) -> list[Row]:
        """Reminders and escalations of one sweep, as one message. Each notice: reference, kind
        (NoticeKind value), deadline, working_days_left."""
        if not self.enabled or not notices:
            return []
        ordered = sorted(notices, key=lambda n: (_date(n["deadline"]), n["reference"]))
        text = self._replies.text("staff_notices", "nl", notices=ordered, limit=LIMIT)
        return [
            self._row(
                case_id=None,
                reference="deadlines",
                kind="staff_chat_notices",
                text=text,
                buttons=self._link(None),
                now=now,
            )
        ]

    def approved_text(self, original: str, who: str) -> str:
        return self._replies.text("staff_draft_done", "nl", original=original, who=who)

    def _link(self, reference: str | None) -> list[list[dict[str, str]]]:
        if not self._console:
            return []
        url = f"{self._console}/cases/{reference}" if reference else f"{self._console}/cases"
        return [[{"text": "Open in console", "url": url}]]

    def _row(
        self,
        *,
        case_id: int | None,
        reference: str,
        kind: str,
        text: str,
        buttons: list[list[dict[str, str]]],
        now: datetime,
    ) -> Row:
        return queries.outbox_row(
            case_id=case_id,
            kind=kind,
            channel="telegram",
            source="staff",
            recipient=str(self.chat_id),
            sender=self._settings.mail.from_address,
            sender_name="dsr-bot",
            subject="",
            body=text,
            language="nl",
            message_id=new_message_id(reference, self._domain),
            now=now,
            buttons=buttons or None,
        )


def _date(value: object) -> date:
    return value if isinstance(value, date) else date.max
