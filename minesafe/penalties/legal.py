"""The legal-basis catalogue (行政处罚的法律依据): provisions by key, cited by cases as snapshots.

A case stores the entries it cites as they read when cited (law, article, title, citation), so a later edit of
the catalogue never changes what a decision said.
"""

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from minesafe.core.services import active_catalogue

KIND = "penalty_legal_basis"
VIOLATED, PENALTY, EXEMPTION, PROCEDURE = "violated", "penalty", "exemption", "procedure"


def catalogue() -> dict:
    return active_catalogue(KIND)


def citation(provision: dict, laws: dict) -> str:
    law = laws.get(provision["law"], {})
    return f"{law.get('short', provision['law'])}{provision['article']}"


def provisions(data: dict | None = None) -> dict[str, dict]:
    """Every provision by key, each with its `citation` (e.g. 《安全生产法》第一百零二条)."""
    data = data or catalogue()
    laws = data.get("laws", {})
    return {p["key"]: {**p, "citation": citation(p, laws)} for p in data.get("provisions", [])}


def with_role(role: str, data: dict | None = None) -> list[dict]:
    return [p for p in provisions(data).values() if role in p.get("roles", [])]


def snapshot(keys) -> list[dict]:
    """The cited provisions as they read now; unknown keys are refused (field legal_basis)."""
    if isinstance(keys, str) or not isinstance(keys, list | tuple):
        raise ValidationError({"legal_basis": _("give the provisions as a list of keys")})
    known = provisions()
    unknown = [str(k) for k in keys if k not in known]
    if unknown:
        raise ValidationError({"legal_basis": _("unknown provision: %(k)s") % {"k": ", ".join(unknown[:5])}})
    seen, cited = set(), []
    for key in keys:
        if key in seen:
            continue
        seen.add(key)
        p = known[key]
        cited.append({"key": key, "roles": list(p.get("roles", [])), "law": p["law"], "article": p["article"],
                      "title": p.get("title", ""), "citation": p["citation"],
                      "confidence": p.get("confidence", "unverified")})
    return cited


def require_complete(cited: list[dict]) -> None:
    """A case cites at least one violated provision and one penalty provision (400, field legal_basis)."""
    roles = {role for p in cited for role in p.get("roles", [])}
    if VIOLATED not in roles or PENALTY not in roles:
        raise ValidationError({"legal_basis": _(
            "cite at least one violated provision (违法条款) and one penalty provision (处罚依据)")})


def cited_with_role(case_basis: list[dict], role: str) -> list[dict]:
    return [p for p in case_basis or [] if role in p.get("roles", [])]


def label(provision: dict) -> str:
    text = f"{provision['citation']}：{provision.get('title', '')}"
    if provision.get("confidence", "unverified") != "verified":
        text += _(" (unverified)")
    return text
