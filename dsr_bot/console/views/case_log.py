"""The case's event log in Dutch: what each kind of event is called, and its detail in a line.

The detail of an event is written by the service that logged it, for the record; here it is
only read. Ids are left out (the page shows what they point at), and so are the classifier's
scores (the labels box shows them).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from dsr_bot.console.templating import KIND_NL, STATE_NL, date_nl
from dsr_bot.domain.cases import EventKind
from dsr_bot.domain.identity import DocumentType
from dsr_bot.domain.wording import DRAFT_KIND_NL
from dsr_bot.store.tables import CaseEventRow

EVENT_NL = {
    EventKind.OPENED: "zaak geopend",
    EventKind.CLASSIFIED: "gelabeld door de classifier",
    EventKind.MESSAGE_RECEIVED: "bericht ontvangen",
    EventKind.ACK_QUEUED: "ontvangstbevestiging klaargezet",
    EventKind.ACK_SUPPRESSED: "geen ontvangstbevestiging gestuurd",
    EventKind.MESSAGE_SENT: "bericht verzonden",
    EventKind.DELIVERY_FAILED: "verzenden mislukt",
    EventKind.STATE_CHANGED: "status gewijzigd",
    EventKind.REMINDER_SENT: "herinnering aan medewerkers",
    EventKind.ESCALATED: "escalatie aan de privacy officer",
    EventKind.CLOCK_PAUSED: "klok stilgezet",
    EventKind.CLOCK_RESUMED: "klok loopt weer",
    EventKind.ASSIGNED: "behandelaar gewijzigd",
    EventKind.DRAFTED: "concept gemaakt",
    EventKind.DRAFT_APPROVED: "concept goedgekeurd",
    EventKind.DRAFT_DISCARDED: "concept weggegooid",
    EventKind.EXTENDED: "termijn verlengd",
    EventKind.CLOSED: "zaak gesloten",
    EventKind.ERASURE_RECORDED: "verwijdering vastgelegd",
    EventKind.IDENTITY_REQUESTED: "bewijs van identiteit gevraagd",
    EventKind.IDENTITY_REMINDED: "herinnering identiteit gestuurd",
    EventKind.IDENTITY_CONFIRMED: "identiteit bevestigd met de code",
    EventKind.IDENTITY_COPY_RECEIVED: "kopie ID ontvangen",
    EventKind.IDENTITY_COPY_REFUSED: "kopie ID afgekeurd door de controle",
    EventKind.IDENTITY_COPY_CHECKED: "kopie ID gecontroleerd",
    EventKind.IDENTITY_COPY_VIEWED: "kopie ID bekeken",
    EventKind.IDENTITY_COPY_DELETED: "kopie ID verwijderd",
    EventKind.IDENTITY_VERIFIED: "identiteit geverifieerd",
    EventKind.IDENTITY_REJECTED: "kopie ID afgewezen",
    EventKind.IDENTITY_WAIVED: "geen bewijs van identiteit nodig",
    EventKind.IDENTITY_INHERITED: "identiteit overgenomen van een eerdere zaak",
    EventKind.IDENTITY_LAPSED: "identiteit niet op tijd vastgesteld",
    EventKind.LABELS_CORRECTED: "labels gecorrigeerd",
    EventKind.TASK_ADDED: "stap toegevoegd",
    EventKind.TASK_ASSIGNED: "stap toegewezen",
    EventKind.TASK_DONE: "stap afgevinkt",
    EventKind.TASK_UNDONE: "stap weer open",
    EventKind.DRAFT_EDITED: "concept bewerkt",
    EventKind.DRAFT_REJECTED: "concept afgewezen",
    EventKind.CHAT_CONFIRMED: "soort verzoek bevestigd in de chat",
    EventKind.DATA_ADDED: "gegevens verzameld",
    EventKind.DATA_REMOVED: "verzamelde gegevens verwijderd",
    EventKind.PACKAGE_ATTACHED: "gegevenspakket bijgevoegd",
}
DECISION_NL = {
    "answered": "beantwoord",
    "erased": "gegevens verwijderd",
    "refused": "geweigerd",
    "withdrawn": "ingetrokken",
    "identity_not_verified": "identiteit niet vastgesteld",
    "not_privacy": "geen privacyverzoek",
}
DOCUMENT_NL = {
    DocumentType.PASSPORT: "paspoort",
    DocumentType.ID_CARD: "identiteitskaart",
    DocumentType.DRIVING_LICENCE: "rijbewijs",
    DocumentType.RESIDENCE_PERMIT: "verblijfsdocument",
    DocumentType.OTHER: "ander document",
}
COPY_OUTCOME_NL = {
    "accepted": "controle: niets gevonden wat zwart moest",
    "unchecked": "niet automatisch gecontroleerd: kijk zelf",
    "unshielded": "niet afgeschermd",
    "unreadable": "onleesbaar",
}
FIELD_NL = {
    "photo": "pasfoto",
    "mrz": "MRZ",
    "document_number": "documentnummer",
    "bsn": "BSN",
}
CHANNEL_NL = {"email": "e-mail", "telegram": "Telegram"}
LANGUAGE_NL = {"nl": "Nederlands", "en": "Engels"}
# Detail keys in the event log, in Dutch; values are shown as they are unless formatted below.
DETAIL_NL = {
    "kinds": "soorten",
    "before": "was",
    "after": "nu",
    "decision": "besluit",
    "document": "document",
    "reason": "reden",
    "assignee": "aan",
    "method": "gevraagd",
    "copies": "kopieën",
    "confidence": "zekerheid",
    "model": "model",
    "promise_due": "belofte",
    "legal_due": "wettelijke termijn",
    "new_due": "nieuwe termijn",
    "paused_days": "dagen stil",
    "since": "sinds",
    "title": "stap",
    "outcome": "uitkomst",
    "fields": "zichtbaar",
    "from": "van zaak",
    "notice": "soort",
    "error": "fout",
    "channel": "kanaal",
    "promise_on": "belofte",
    "legal_on": "wettelijke termijn",
    "checklist": "voor",
    "steps": "stappen",
    "step": "herinnering",
    "attempts": "pogingen",
    "identifiers": "gegevens in het register",
    "unavailable": "niet beschikbaar",
    "suggested": "voorgesteld",
    "chosen": "gekozen",
    "contact_email": "e-mailadres opgegeven",
    "system": "systeem",
    "entries": "velden",
    "file_bytes": "bestand (bytes)",
    "package": "pakket",
    "bytes": "bytes",
}
# Ids and numbers that mean nothing to a reader (the page shows what they point at).
HIDDEN_DETAIL = frozenset(
    {"scores", "confident", "message", "outbox", "draft", "task", "copy", "correction", "item"}
)
ACTOR_NL = {"system": "dsr-bot (automatisch)", "requester": "de aanvrager", "dsr-bot": "dsr-bot"}


def event_line(event: CaseEventRow, names: dict[str, str]) -> dict[str, Any]:
    try:
        kind = EVENT_NL[EventKind(event.kind)]
    except ValueError:
        kind = event.kind  # an event of a newer release
    return {
        "at": event.at,
        "actor": ACTOR_NL.get(event.actor) or names.get(event.actor, event.actor),
        "kind": kind,
        "detail": event_detail(event.kind, event.detail, names),
    }


def event_detail(kind: str, detail: dict[str, Any], names: dict[str, str]) -> str:
    """A short, readable rendering of an event's detail (never a score table or an id)."""
    parts = []
    for key, value in detail.items():
        if key == "assignee" and value is None:
            value = "niemand"  # taken away from whoever had it
        if key in HIDDEN_DETAIL or value is None or value == "" or value == []:
            continue
        parts.append(f"{DETAIL_NL.get(key, key)}: {_value(kind, key, value, names)}")
    return "; ".join(parts)


def _value(kind: str, key: str, value: Any, names: dict[str, str]) -> str:
    if isinstance(value, list):
        return ", ".join(_value(kind, key, v, names) for v in value)
    text = str(value)
    labelled = kind == EventKind.LABELS_CORRECTED and key in ("before", "after")
    if key in ("kinds", "checklist", "suggested", "chosen") or labelled:
        return KIND_NL.get(text, text)
    if kind == EventKind.STATE_CHANGED:
        return STATE_NL.get(text, text)
    if key == "decision":
        return DECISION_NL.get(text, text)
    if key == "document":
        return DOCUMENT_NL.get(DocumentType(text), text) if text in set(DocumentType) else text
    if key == "method":
        return {"copy": "kopie ID", "code": "code"}.get(text, text)
    if key == "fields":
        return FIELD_NL.get(text, text)
    if key == "outcome":
        return COPY_OUTCOME_NL.get(text, text)
    if key == "assignee":
        return names.get(text, text)
    if key == "channel":
        return CHANNEL_NL.get(text, text)
    if key == "confidence" and isinstance(value, float):
        return f"{round(value * 100)}%"
    if key == "notice":
        return DRAFT_KIND_NL.get(text, text)
    if key in ("promise_due", "legal_due", "new_due", "since", "promise_on", "legal_on"):
        try:
            return date_nl(datetime.fromisoformat(text).date())
        except ValueError:
            return text
    return text
