"""Who may do what in the console.

| role            | may                                                        |
|-----------------|------------------------------------------------------------|
| staff           | see cases, handle tasks, write drafts, correct labels      |
| privacy_officer | that, and approve drafts, handle identity, export register |
| admin           | that of staff, and manage accounts and templates           |

An admin is not a privacy officer: whoever manages accounts does not also approve replies.
"""

from __future__ import annotations

import enum


class Role(enum.StrEnum):
    STAFF = "staff"
    PRIVACY_OFFICER = "privacy_officer"
    ADMIN = "admin"


class Permission(enum.StrEnum):
    SEE_CASES = "see_cases"
    HANDLE_TASKS = "handle_tasks"
    WRITE_DRAFTS = "write_drafts"
    CORRECT_LABELS = "correct_labels"
    ASSIGN = "assign"
    APPROVE = "approve"
    IDENTITY = "identity"  # view ID copies, verify, reject, waive, ask for a copy
    CLOSE_CASES = "close_cases"
    EXPORT = "export"  # the register, label corrections
    MANAGE_ACCOUNTS = "manage_accounts"
    MANAGE_TEMPLATES = "manage_templates"


_STAFF = frozenset(
    {
        Permission.SEE_CASES,
        Permission.HANDLE_TASKS,
        Permission.WRITE_DRAFTS,
        Permission.CORRECT_LABELS,
        Permission.ASSIGN,
    }
)

PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.STAFF: _STAFF,
    Role.PRIVACY_OFFICER: _STAFF
    | {Permission.APPROVE, Permission.IDENTITY, Permission.CLOSE_CASES, Permission.EXPORT},
    Role.ADMIN: _STAFF | {Permission.MANAGE_ACCOUNTS, Permission.MANAGE_TEMPLATES},
}

ROLE_NAMES_NL = {
    Role.STAFF: "medewerker",
    Role.PRIVACY_OFFICER: "privacy officer",
    Role.ADMIN: "beheerder",
}


def may(role: str, permission: Permission) -> bool:
    try:
        return permission in PERMISSIONS[Role(role)]
    except ValueError:
        return False  # an unknown role (a hand-edited row) may do nothing
