"""Rep, team, campaign, AMD and sale amount of a record, from the mapping's rules.

Each format brings default rules (README, "Ingest"); a mapping file replaces them field by
field. The lookup CSV, when given, decides a rep's team (and campaign, where it has one)
over any rule.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import get_args

from ingest.mapping import IngestMapping, Rule, load_lookup
from ingest.rejects import IngestRejection, Unmappable
from schemas.cdr import Outcome

AMD_VALUES: dict[str, str | None] = {
    # Asterisk AMD() AMDSTATUS, FreeSWITCH mod_avmd/amd results, common spellings
    "HUMAN": "human", "PERSON": "human", "MACHINE": "machine", "NOTSURE": "notsure",
    "NOT_SURE": "notsure", "HANGUP": None, "": None,
}  # fmt: skip

OUTCOMES = frozenset(get_args(Outcome))
Defaults = Mapping[str, list[Rule]]


class IdentityResolver:
    def __init__(self, mapping: IngestMapping, defaults: Defaults) -> None:
        def rules(name: str) -> tuple[Rule, ...]:
            chosen = getattr(mapping, name)
            return tuple(chosen if chosen is not None else defaults.get(name, ()))

        self.rep, self.team, self.campaign = rules("rep"), rules("team"), rules("campaign")
        self.amd_rules, self.sale_rules = rules("amd"), rules("sale_amount")
        self.outcome_rules = rules("outcome")
        self.amd_values = {**AMD_VALUES, **{k.upper(): v for k, v in mapping.amd_values.items()}}
        self.lookup = load_lookup(mapping.lookup) if mapping.lookup else {}
        # what a ``no_identity`` reject says was tried, per CDR field
        identity = (("rep", self.rep), ("team", self.team), ("campaign", self.campaign))
        self.tried = {f"{name}_id": ", ".join(rule.describe() for rule in rules) or "no rule"
                      for name, rules in identity}  # fmt: skip

    @staticmethod
    def _first(rules: tuple[Rule, ...], fields: Mapping[str, str], target: str) -> str | None:
        for rule in rules:
            found = rule.extract(fields, target)
            if found:
                return found.strip() or None
        return None

    def identity(self, fields: Mapping[str, str]) -> tuple[str | None, str | None, str | None]:
        rep = self._first(self.rep, fields, "rep")
        team = self._first(self.team, fields, "team")
        campaign = self._first(self.campaign, fields, "campaign")
        if rep is not None and rep in self.lookup:
            team, listed_campaign = self.lookup[rep]
            campaign = listed_campaign or campaign
        return rep, team, campaign

    def amd(self, fields: Mapping[str, str]) -> str | None:
        """The AMD result, None when not known; a value not in ``amd_values`` is unmappable."""
        text = self._first(self.amd_rules, fields, "amd")
        if text is None:
            return None
        try:
            return self.amd_values[text.upper()]
        except KeyError:
            known = ", ".join(sorted(k for k in self.amd_values if k))
            raise Unmappable(
                IngestRejection.UNKNOWN_STATUS, f"AMD result {text!r} is not one of {known} (amd_values)"
            ) from None

    def outcome(self, fields: Mapping[str, str]) -> str | None:
        """The rep's disposition (``sale``, ``callback``...) where the dialer records it, else None."""
        text = self._first(self.outcome_rules, fields, "outcome")
        if text is None:
            return None
        if text.lower() not in OUTCOMES:
            raise Unmappable(IngestRejection.UNKNOWN_STATUS,
                             f"outcome {text!r} is not one of {', '.join(sorted(OUTCOMES))}")  # fmt: skip
        return text.lower()

    def sale_amount(self, fields: Mapping[str, str]) -> str | None:
        return self._first(self.sale_rules, fields, "sale_amount")
