"""Dutch words for staff, shared by the console and the staff chat (they must say the same)."""

from __future__ import annotations

DRAFT_KIND_NL = {
    "answer": "antwoord",
    "extension_notice": "verlenging van de termijn (art. 12 lid 3)",
    "refusal_notice": "weigering (art. 12 lid 4)",
    "complaint_acknowledgement": "ontvangstbevestiging van een klacht",
    "identity_not_verified": "identiteit niet vastgesteld: zaak gesloten",
}

# Why casework.approve refuses (CaseworkError.code), as staff are told.
REFUSED_NL = {
    "wrote": "U schreef dit concept. Iemand anders moet het goedkeuren (vier ogen).",
    "edited": "U heeft dit concept het laatst bewerkt. Iemand anders moet het goedkeuren "
    "(vier ogen).",
    "identity": "De identiteit van de persoon is nog niet vastgesteld. Een antwoord op het "
    "verzoek gaat pas weg als die is geverifieerd.",
    "unreachable": "Er is geen adres of chat om het bericht naartoe te sturen.",
}
