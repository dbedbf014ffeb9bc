"""Sample values for every reply template: what the code passes to it, in variants.

For each mail, SAMPLES holds variants that reach every branch; the first is the full one (every
optional value given: the console's preview uses it) and the last the minimal one (only what is
always passed, optional values None or empty). `reply_check` tries an admin's replacement with
all of them, and `dsr-bot templates check` renders every template with them. Kept in step with
the callers of Replies.render by tests/test_reply_overrides.py.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from dsr_bot.config import ProfileSettings

_DAY = date(2026, 3, 2)  # a Monday
_PROFILE = ProfileSettings()
# The profile of a small organisation: no phone, no recipients, no cookies, nothing kept longer.
_BARE_PROFILE = _PROFILE.model_copy(
    update={
        "parent_organisation": "",
        "privacy_contact": _PROFILE.privacy_contact.model_copy(update={"phone": ""}),
        "special_categories": (),
        "recipients": (),
        "retention": _PROFILE.retention.model_copy(
            update={"longer": (), "erasure_survives_restore": False}
        ),
        "cookies": (),
        "data_sources": (),
        "systems": (),
    }
)

REFERENCE = "AVG-2026-0042"
_PERSON: dict[str, Any] = {
    "name": "Fatima el Amrani",
    "reference": REFERENCE,
    "received_on": _DAY,
    "organisation": _PROFILE.organisation,
    "parent_organisation": _PROFILE.parent_organisation,
    "email": _PROFILE.email,
    "website": _PROFILE.website,
}
# Someone who gave no name, writing to an organisation that is part of no other.
_NOBODY: dict[str, Any] = {**_PERSON, "name": None, "parent_organisation": None}
_CASE_ROW = {
    "reference": "AVG-2026-0041",
    "kinds": ["access"],
    "deadline": date(2026, 3, 30),
    "which": "belofte",
    "working_days_left": 2,
}


def _draft(person: dict[str, Any], channel: str, **context: Any) -> dict[str, Any]:
    """What casework._render_draft passes to every draft, and `context` on top."""
    profile = _PROFILE if person is _PERSON else _BARE_PROFILE
    return {**person, "reasons": "", "channel": channel, "profile": profile.facts(), **context}


# What the code passes to each template (see the callers of Replies.render and
# IdentityDesk.render), in variants that reach every branch, so a replacement is tried the way
# the bot will use it.
_VARIANTS: dict[str, tuple[dict[str, Any], ...]] = {
    "acknowledgement": tuple(
        {
            **_PERSON,
            "name": name,
            "promise_on": date(2026, 3, 30),
            "identity": check,
            "code": code,
            "channel": channel,
            "kinds": kinds,
        }
        for name, check, code, channel, kinds in (
            (_PERSON["name"], None, None, "email", ["access", "erasure", "objection"]),
            (_PERSON["name"], "copy", None, "email", ["rectification", "restriction"]),
            (None, "code", "483 921", "email", ["portability", "complaint", "other"]),
            (_PERSON["name"], "copy", None, "telegram", []),
        )
    ),
    "complaint_acknowledgement": tuple(
        {**_PERSON, "promise_on": date(2026, 3, 30), "channel": channel}
        for channel in ("email", "telegram")
    ),
    "extension_notice": tuple(
        _draft(
            _PERSON,
            channel,
            reasons="Uw verzoek gaat over drie systemen.",
            new_due=date(2026, 6, 2),
        )
        for channel in ("email", "telegram")
    ),
    "refusal_notice": tuple(
        _draft(_PERSON, channel, reasons="Uw verzoek gaat over een ander.")
        for channel in ("email", "telegram")
    ),
    "answer": tuple(
        _draft(_PERSON, channel, name=name, text="Hierbij sturen wij u uw gegevens.")
        for name, channel in ((_PERSON["name"], "email"), (None, "telegram"))
    ),
    "access_reply": (
        _draft(_PERSON, "email", text="Wij vonden uw gegevens in het CRM en de leeromgeving."),
        _draft(_PERSON, "telegram", text=""),
    ),
    "rectification_done": (
        _draft(_PERSON, "email", changes="Uw adres is nu: Dorpsstraat 1, 1234 AB Ergens."),
    ),
    "erasure_done": (
        _draft(
            _PERSON,
            "email",
            kept="Uw facturen bewaren wij nog 7 jaar, omdat de belastingwet dat vraagt.",
        ),
        _draft(_PERSON, "telegram", kept=""),
    ),
    "restriction_applied": (
        _draft(_PERSON, "email", text="Dit geldt tot wij uw adres hebben gecontroleerd."),
    ),
    "restriction_lifting": (
        _draft(
            _PERSON,
            "email",
            reasons="Wij hebben uw adres gecontroleerd; het klopt.",
            lift_on=date(2026, 4, 20),
        ),
    ),
    "portability_reply": (
        _draft(_PERSON, "email", text="De bestanden komen uit het CRM en de leeromgeving."),
    ),
    "objection_confirmed": (
        _draft(
            _PERSON,
            "email",
            text="Wij bellen u ook niet meer.",
            unsubscribed=True,
            consent_withdrawn=True,
        ),
        _draft(_PERSON, "telegram", text="", unsubscribed=True, consent_withdrawn=False),
    ),
    "clarification": (
        _draft(_PERSON, "email", question="Over welke opleiding gaat uw verzoek?"),
        _draft(_PERSON, "telegram", question="Welk e-mailadres gebruikte u bij ons?"),
    ),
    "identity_verified": (
        _draft(_PERSON, "email", text="Dank voor de snelle reactie.", due_on=date(2026, 3, 30)),
    ),
    "id_request": tuple(
        {**_PERSON, "channel": channel, "reason": reason}
        for channel, reason in (("telegram", "Een ander e-mailadres."), ("email", None))
    ),
    "id_reminder": tuple(
        {
            **_PERSON,
            "channel": channel,
            "identity": identity,
            "code": "483 921" if identity == "code" else None,
            "requested_on": date(2026, 3, 3),
            "close_on": date(2026, 3, 31),
            "step": step,
            "last": step == 2,
        }
        for identity, channel, step in (
            ("copy", "email", 1),
            ("copy", "telegram", 2),
            ("code", "email", 2),
            ("code", "telegram", 1),
        )
    ),
    "id_copy_unshielded": tuple(
        {**_PERSON, "channel": channel, "fields": fields, "unreadable": not fields}
        for channel, fields in (("email", ["photo", "bsn"]), ("telegram", []))
    ),
    "identity_not_verified": tuple(
        {**_PERSON, "channel": channel, "identity": identity, "requested_on": date(2026, 3, 3)}
        for identity, channel in (("copy", "email"), ("code", "telegram"))
    ),
    "staff_reminder": tuple(
        {
            "reference": REFERENCE,
            "kinds": kinds,
            "kind": kind,
            "deadline": date(2026, 3, 30),
            "working_days_left": left,
        }
        for kind, kinds, left in (("promise_near", ["access"], 3), ("legal_near", [], 0))
    ),
    "staff_escalation": tuple(
        {
            "reference": REFERENCE,
            "kinds": ["portability"],
            "kind": kind,
            "deadline": date(2026, 4, 2),
            "working_days_left": left,
            "extension_possible": possible,
            "extended_due": date(2026, 6, 2),
        }
        for kind, left, possible in (
            ("promise_overdue", -1, False),
            ("legal_overdue", -3, False),
            ("extension_prompt", 5, True),
            ("extension_prompt", 0, False),
        )
    ),
    "staff_task_assigned": tuple(
        {
            "reference": REFERENCE,
            "kinds": kinds,
            "title": "Zoek in het CRM",
            "assigned_by": "petra@academiewerkendleren.nl",
            "promise_due": date(2026, 3, 30) if dated else None,
            "legal_due": date(2026, 4, 2) if dated else None,
            "extended": extended,
            "paused": paused,
            "url": "https://console.example/cases/AVG-2026-0042",
        }
        for kinds, dated, extended, paused in (
            (["access", "erasure"], True, False, False),
            ([], True, True, True),
            (["other"], False, False, False),
        )
    ),
    "staff_digest": (
        {
            "today": date(2026, 3, 27),
            "open_count": 12,
            "triage_count": 3,
            "due_soon": [_CASE_ROW],
            "overdue": [{**_CASE_ROW, "which": "wettelijk", "working_days_left": -2}],
            "due_soon_total": 4,
            "overdue_total": 1,
        },
    ),
}

# Only what is always passed; every optional value None, empty or off.
MINIMAL: dict[str, dict[str, Any]] = {
    "acknowledgement": {
        **_NOBODY,
        "promise_on": date(2026, 3, 30),
        "identity": None,
        "code": None,
        "channel": "email",
    },
    "complaint_acknowledgement": {**_NOBODY, "promise_on": date(2026, 3, 30), "channel": "email"},
    "extension_notice": _draft(_NOBODY, "email", reasons="-", new_due=date(2026, 6, 2)),
    "refusal_notice": _draft(_NOBODY, "email", reasons="-"),
    "answer": _draft(_NOBODY, "email", text="-"),
    "access_reply": _draft(_NOBODY, "email", text=""),
    "rectification_done": _draft(_NOBODY, "email", changes="-"),
    "erasure_done": _draft(_NOBODY, "email", kept=""),
    "restriction_applied": _draft(_NOBODY, "email", text=""),
    "restriction_lifting": _draft(_NOBODY, "email", reasons="-", lift_on=date(2026, 4, 20)),
    "portability_reply": _draft(_NOBODY, "email", text=""),
    "objection_confirmed": _draft(
        _NOBODY, "email", text="", unsubscribed=False, consent_withdrawn=False
    ),
    "clarification": _draft(_NOBODY, "email", question="-"),
    "identity_verified": _draft(_NOBODY, "email", text="", due_on=None),
    "id_request": {**_NOBODY, "channel": "email", "reason": None},
    "id_reminder": {
        **_NOBODY,
        "channel": "email",
        "identity": "copy",
        "code": None,
        "requested_on": date(2026, 3, 3),
        "close_on": date(2026, 3, 31),
        "step": 1,
        "last": False,
    },
    "id_copy_unshielded": {**_NOBODY, "channel": "email", "fields": [], "unreadable": False},
    "identity_not_verified": {
        **_NOBODY,
        "channel": "email",
        "identity": "copy",
        "requested_on": date(2026, 3, 3),
    },
    "staff_reminder": {
        "reference": REFERENCE,
        "kinds": [],
        "kind": "promise_near",
        "deadline": date(2026, 3, 30),
        "working_days_left": 1,
    },
    "staff_escalation": {
        "reference": REFERENCE,
        "kinds": [],
        "kind": "extension_prompt",
        "deadline": date(2026, 4, 2),
        "working_days_left": 0,
        "extension_possible": False,
        "extended_due": date(2026, 6, 2),
    },
    "staff_task_assigned": {
        "reference": REFERENCE,
        "kinds": [],
        "title": "Zoek in het CRM",
        "assigned_by": "petra@academiewerkendleren.nl",
        "promise_due": None,
        "legal_due": None,
        "extended": False,
        "paused": False,
        "url": "https://console.example/cases/AVG-2026-0042",
    },
    "staff_digest": {
        "today": date(2026, 3, 27),
        "open_count": 0,
        "triage_count": 0,
        "due_soon": [],
        "overdue": [],
        "due_soon_total": 0,
        "overdue_total": 0,
    },
}

SAMPLES: dict[str, tuple[dict[str, Any], ...]] = {
    template: (*variants, MINIMAL[template]) for template, variants in _VARIANTS.items()
}


def named_samples(template: str) -> list[tuple[str, dict[str, Any]]]:
    """The samples of `template`, each with a name for a report: "full", "variant 2", "minimal"."""
    samples = SAMPLES.get(template, ())
    names = ["full", *(f"variant {n}" for n in range(2, len(samples))), "minimal"]
    return list(zip(names, samples, strict=True)) if samples else []


def with_profile(context: dict[str, Any], profile: ProfileSettings) -> dict[str, Any]:
    """A full sample as a case of `profile` gets it: the profile's facts and reference prefix.
    A sample of a mail that states no facts (mail to staff) stays as it is."""
    if "organisation" not in context:
        return context
    facts = profile.reply_context()
    if "profile" not in context:
        del facts["profile"]
    reference = context.get("reference")
    if isinstance(reference, str) and reference.startswith("AVG-"):
        facts["reference"] = profile.reference_prefix + reference.removeprefix("AVG")
    return {**context, **facts}
