"""The two abandon regimes (US FTC 30 days, UK Ofcom 24 hours): chosen per floor and per
campaign in the settings, both exported on /metrics with the regime each campaign is under,
and the wallboard shows each campaign's own regime's rate and line."""

from __future__ import annotations

from datetime import UTC, datetime, time

import pytest

from schemas.abandon import REGIMES
from schemas.settings import Settings, SettingsError, load_settings
from schemas.snapshots import Heartbeat, decode, encode
from streams.live_collector import LiveCollector
from streams.live_state import LiveState
from tests.unit.test_live_collector import scrape
from wallboard.floor import Floor
from wallboard.pace import Shift
from wallboard.view import Filters, build_view

NOW = datetime(2026, 11, 26, 4, 0, tzinfo=UTC)
THIRTY = {"camp-1": (2, 98), "camp-2": (25, 975)}  # 2 %, 2.5 %
DAY = {"camp-1": (5, 95), "camp-2": (1, 199)}  # 5 %, 0.5 %


def test_regimes_per_floor_and_per_campaign() -> None:
    settings = Settings(abandon_regime="24h", abandon_regime_campaigns="camp-2=30d")
    assert settings.abandon_regime_of("camp-1") == "24h"
    assert settings.abandon_regime_of("camp-2") == "30d"
    assert Settings().abandon_regime_of("camp-1") == "30d"
    rebuilt = Settings(**{k.removeprefix("CALLFLOOR_").lower(): v for k, v in settings.to_env().items()})
    assert rebuilt.campaign_regimes == {"camp-2": "30d"}


@pytest.mark.parametrize("text", ["camp-2=uk", "camp-2", "=24h", "camp-2=24h, camp-3"])
def test_a_bad_regime_setting_names_the_variable(text: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SettingsError) as refused:
        load_settings(abandon_regime_campaigns=text)
    err = str(refused.value)
    assert "CALLFLOOR_ABANDON_REGIME_CAMPAIGNS" in err and "30d, 24h" in err


def test_metrics_carry_both_windows_and_each_campaigns_regime() -> None:
    settings = Settings(abandon_regime_campaigns="camp-1=24h, camp-9=24h")
    state = LiveState(today=lambda: NOW.astimezone(settings.zone).date())
    collector = LiveCollector(
        settings, state, exported_partitions=set, partition_of=lambda _: 0, targets=lambda: None,
        month_before_today=dict, campaign_abandons=lambda: THIRTY, campaign_abandons_24h=lambda: DAY,
        clock=lambda: NOW,
    )  # fmt: skip
    samples = scrape(collector)
    camp = lambda c: (("campaign", c),)  # noqa: E731
    assert samples[("callfloor_campaign_abandon_rate_30d", camp("camp-1"))] == 0.02
    assert samples[("callfloor_campaign_abandon_rate_24h", camp("camp-1"))] == 0.05
    assert samples[("callfloor_campaign_abandoned_24h", camp("camp-2"))] == 1
    assert samples[("callfloor_campaign_live_answers_24h", camp("camp-2"))] == 200
    regimes = {dict(labels)["campaign"]: dict(labels)["regime"]
               for (name, labels), value in samples.items()
               if name == "callfloor_campaign_abandon_regime" and value == 1}  # fmt: skip
    # camp-9 has no calls yet but is configured: Prometheus knows its regime before it dials
    assert regimes == {"camp-1": "24h", "camp-2": "30d", "camp-9": "24h"}


def _floor_with(thirty: dict, day: dict) -> Floor:
    floor = Floor(10.0, started=0.0)
    beat = Heartbeat("w", 1, [0], 1, NOW.timestamp(), NOW.timestamp(), 0, thirty, day)
    floor.apply(decode(encode(beat)), NOW.timestamp())  # through the topic's encoding
    return floor


def test_the_board_shows_each_campaigns_regime_rate_and_line() -> None:
    settings = Settings(timezone="UTC", abandon_regime_campaigns="camp-1=24h")
    view = build_view(_floor_with(THIRTY, DAY), None, Shift(time(9), time(18)), settings.zone,
                      NOW.timestamp(), Filters(), [], regime_of=settings.abandon_regime_of)  # fmt: skip
    rows = {row["campaign"]: row for row in view["campaigns"]}
    # camp-1 is judged over 24 hours: 5 % there (over its line) though 2 % over 30 days
    assert (rows["camp-1"]["regime"], rows["camp-1"]["rate"], rows["camp-1"]["over"]) == ("24h", 0.05, True)
    assert rows["camp-1"]["line"] == REGIMES["24h"].line
    assert (rows["camp-2"]["regime"], rows["camp-2"]["rate"], rows["camp-2"]["over"]) == ("30d", 0.025, False)


def test_a_heartbeat_without_the_24_hour_window_still_decodes() -> None:
    """A worker from before the 24-hour regime keeps feeding a newer board (rolling upgrade)."""
    old = b'{"type":"heartbeat","worker":"w","generation":1,"partitions":[0],"partition_count":1,' \
          b'"ts":1.0,"last_processed":1.0,"lag":0,"campaigns":{"c":[1,9]}}'
    beat = decode(old)
    assert isinstance(beat, Heartbeat) and beat.campaigns_24h == {} and beat.campaigns == {"c": (1, 9)}
