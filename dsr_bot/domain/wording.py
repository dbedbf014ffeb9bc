"""Dutch words for staff, shared by the console and the staff chat (they must say the same)."""

from __future__ import annotations

DRAFT_KIND_NL = {
    "answer": "antwoord",
    "extension_notice": "verlenging van de termijn (art. 12 lid 3)",
    "refusal_notice": "weigering (art. 12 lid 4)",
    "complaint_acknowledgement": "ontvangstbevestiging van een klacht",
    "identity_not_verified": "identiteit niet vastgesteld: zaak gesloten",
    "access_reply": "antwoord op inzage (art. 15)",
    "rectification_done": "gegevens aangepast (art. 16)",
    "erasure_done": "gegevens gewist (art. 17)",
    "restriction_applied": "gebruik van gegevens beperkt (art. 18)",
    "restriction_lifting": "beperking wordt opgeheven (art. 18 lid 3)",
    "portability_reply": "gegevens in een bestand (art. 20)",
    "objection_confirmed": "bezwaar uitgevoerd (art. 21)",
    "clarification": "vraag om verduidelijking",
    "identity_verified": "identiteit vastgesteld",
}

# What staff write in a new draft of each kind (the console's "Tekst of redenen"), as the
# error names it when it is missing: "Schrijf ...: de persoon leest die."
DRAFT_TEXT_NL = {
    "answer": "de tekst van het antwoord",
    "extension_notice": "de redenen",
    "refusal_notice": "de redenen",
    "rectification_done": "wat u hebt aangepast",
    "restriction_lifting": "waarom de beperking wordt opgeheven",
    "clarification": "uw vraag",
}

# Why casework refuses a new draft (CaseworkError.code), as staff are told.
DRAFT_REFUSED_NL = {
    "lift_on": "Kies de datum waarop de beperking wordt opgeheven. Die ligt na vandaag: de "
    "persoon hoort het vooraf.",
    "not_verified": "De identiteit van de persoon is niet met een code of een kopie "
    "vastgesteld. Dit bericht past dan niet.",
    "objection": "Vink aan wat is gestopt, of schrijf het op.",
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
