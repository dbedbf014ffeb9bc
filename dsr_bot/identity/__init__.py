"""Identity checks: is an ID copy shielded as required (photo, MRZ, document number, BSN)?"""

from dsr_bot.identity.id_check import CheckResult, Finding, FindingKind, IdChecker

__all__ = ["CheckResult", "Finding", "FindingKind", "IdChecker"]
