"""The two abandon-rate regimes a floor can be judged by, per campaign.

abandon rate = abandoned / (connects + abandoned) (``schemas.kpis.abandon_rate``), over:

- ``30d``: the US FTC telemarketing rule's safe harbour (16 CFR 310.4(b)(4)(i)): at most 3 %
  of live answers per campaign, measured over 30 days;
- ``24h``: the UK Ofcom persistent-misuse policy: at most 3 % of live calls per campaign in
  any 24-hour period.

Which regime a campaign is under is a setting (``CALLFLOOR_ABANDON_REGIME`` for the floor,
``CALLFLOOR_ABANDON_REGIME_CAMPAIGNS`` per campaign; ``Settings.abandon_regime_of``). Every
worker exports both rates for every campaign plus the regime each is under; the alert rules
(deploy/prometheus/rules.yml) judge a campaign by its own regime's rate and line, and the
wallboard shows that rate and that line.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from schemas.settings import REGIME_NAMES, AbandonRegime


@dataclass(frozen=True)
class Regime:
    name: AbandonRegime  # also the suffix of its /metrics series and recording rules
    window: timedelta
    line: float  # the legal limit: a rate above it breaks the rule
    authority: str
    alert: str  # the alert rule that pages when a campaign under this regime is over the line

    @property
    def span(self) -> str:
        """The window in words: "30 days", "24 hours"."""
        days = self.window.days
        return f"{days} days" if days else f"{self.window.seconds // 3600} hours"

    @property
    def series(self) -> str:
        """The /metrics rate series of this regime, e.g. ``callfloor_campaign_abandon_rate_24h``."""
        return f"callfloor_campaign_abandon_rate_{self.name}"


REGIMES: dict[str, Regime] = {
    "30d": Regime("30d", timedelta(days=30), 0.03, "US FTC safe harbour, 16 CFR 310.4(b)(4)",
                  "CampaignAbandonRateHigh"),
    "24h": Regime("24h", timedelta(hours=24), 0.03, "UK Ofcom, per campaign in 24 hours",
                  "CampaignAbandonRate24hHigh"),
}  # fmt: skip
assert tuple(REGIMES) == REGIME_NAMES
# (abandoned, connects) per campaign, for each regime's window
Abandons = dict[str, tuple[int, int]]
