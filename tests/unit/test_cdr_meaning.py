"""Valid shape, wrong meaning: identifiers, the floor's currency, amount bound and horizon."""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from deploy.cli import main
from schemas.cdr import DEFAULT_RULES, SCHEMA_ONLY, CdrRules, parse_cdr
from schemas.identifiers import REFUSED, REFUSED_CATEGORIES, normalised_id
from schemas.rejections import CDRRejected, Rejection
from schemas.settings import Settings
from tests.factories import cdr_dict, encode, unanswered

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
ID_FIELDS = ("call_id", "rep_id", "team_id", "campaign_id")


def rejected(data: dict, rules: CdrRules = DEFAULT_RULES) -> CDRRejected:
    with pytest.raises(CDRRejected) as caught:
        parse_cdr(encode(data), now=NOW, rules=rules)
    assert caught.value.detail
    return caught.value


def dialed(ago: timedelta) -> dict:
    start = NOW - ago
    return unanswered(dialed_at=start.isoformat(), ended_at=(start + timedelta(seconds=30)).isoformat())


# --- identifiers ----------------------------------------------------------------------------

REFUSED_IDS = [
    " ", "   ", "\t", "\u3000", "\u00a0",  # whitespace only (ASCII, ideographic, no-break)
    "rep\x00", "rep\x07", "\x1b[31mrep", "rep\x7f", "rep\x85",  # C0/C1 controls, NUL, ESC
    "rep\u200b", "\u200brep", "re\u200dp", "rep\ufeff", "rep\u00ad",  # zero-width, BOM, soft hyphen
    "\u202erep", "rep\u2066", "rep\u061c",  # bidi override, isolate, Arabic letter mark
    "rep\u2028", "rep\u2029", "rep\n", "rep\r",  # line / paragraph separators
    " rep", "rep ", "rep\u3000", "\u2003rep",  # leading / trailing whitespace
]


@pytest.mark.parametrize("field", ID_FIELDS)
@pytest.mark.parametrize("value", REFUSED_IDS)
def test_blank_padded_invisible_and_control_ids_are_refused(field: str, value: str) -> None:
    caught = rejected(cdr_dict(**{field: value}))
    assert caught.reason is Rejection.BAD_IDENTIFIER
    assert caught.detail.startswith(f"{field}: ")


def test_every_format_and_control_character_is_refused() -> None:
    refused = [chr(c) for c in range(0x110000) if unicodedata.category(chr(c)) in ("Cc", "Cf", "Zl", "Zp")]
    assert len(refused) > 150  # the categories are not empty by mistake
    for char in refused:
        with pytest.raises(ValueError, match=f"U\\+{ord(char):04X}"):
            normalised_id(f"rep{char}1")


@pytest.mark.parametrize(
    ("sent", "stored"),
    [
        ("rep-1", "rep-1"),
        ("ｒｅｐ－１", "rep-1"),  # full-width (CJK input method) is the plain id
        ("ＲＥＰ１", "REP1"),  # case is kept: ids are case-sensitive, as the dialer sends them
        ("ﾚｯﾌﾟ", "レップ"),  # half-width katakana -> the usual katakana
        ("Jose\u0301", "José"),  # decomposed accent -> composed (NFC part of NFKC)
        ("rep\u2460", "rep1"),  # circled digit
        ("王伟", "王伟"),
        ("Anna Lee", "Anna Lee"),  # inner spaces are part of an id
        ("camp\u00a0spring", "camp spring"),  # a no-break space inside becomes a space
    ],
)
def test_ids_are_normalised_with_nfkc(sent: str, stored: str) -> None:
    cdr = parse_cdr(encode(cdr_dict(rep_id=sent, team_id=sent, campaign_id=sent, call_id=sent)), now=NOW)
    assert (cdr.rep_id, cdr.team_id, cdr.campaign_id, cdr.call_id) == (stored,) * 4


def test_look_alikes_count_as_one_rep() -> None:
    sent = ("rep-7", "ｒｅｐ－７", "rep\uff0d7")
    ids = {parse_cdr(encode(cdr_dict(rep_id=v)), now=NOW).rep_id for v in sent}
    assert ids == {"rep-7"}


def test_plain_ascii_ids_are_returned_as_they_came() -> None:
    value = "rep-0042_A.b@x"
    assert normalised_id(value) is value


def test_an_id_that_grows_past_the_limit_when_normalised_is_refused() -> None:
    caught = rejected(cdr_dict(rep_id="\ufdfa" * 10))  # one ligature -> 18 letters
    assert caught.reason is Rejection.BAD_IDENTIFIER and "128" in caught.detail


def test_an_id_problem_ranks_with_its_field() -> None:
    """rep_id comes before talk_seconds in the schema, so its reason wins; currency comes after."""
    assert rejected(cdr_dict(rep_id=" ", talk_seconds="60")).reason is Rejection.BAD_IDENTIFIER
    assert rejected(cdr_dict(version=0, rep_id=" ")).reason is Rejection.INVALID_VALUE
    assert rejected(cdr_dict(rep_id=7)).reason is Rejection.INVALID_VALUE  # wrong type stays invalid_value


def test_the_refused_class_is_exactly_the_refused_categories() -> None:
    """REFUSED is written out for speed; this says when Python's Unicode version moves on."""
    assert frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"}) == REFUSED_CATEGORIES
    wrong = [
        f"U+{c:04X}" for c in range(0x110000)
        if bool(REFUSED.match(chr(c))) != (unicodedata.category(chr(c)) in REFUSED_CATEGORIES)
    ]  # fmt: skip
    assert wrong == [], f"regenerate REFUSED for Unicode {unicodedata.unidata_version}"


# --- currency -------------------------------------------------------------------------------


@pytest.mark.parametrize("currency", ["USD", "EUR", "XXX", "CNH"])
def test_other_currencies_are_refused_not_summed(currency: str) -> None:
    caught = rejected(cdr_dict(currency=currency))
    assert caught.reason is Rejection.CURRENCY_MISMATCH
    assert currency in caught.detail and "CNY" in caught.detail


def test_a_floor_configured_for_usd_takes_usd_only() -> None:
    rules = Settings(currency="USD").cdr_rules
    assert parse_cdr(encode(cdr_dict(currency="USD")), now=NOW, rules=rules).currency == "USD"
    assert rejected(cdr_dict(currency="CNY"), rules).reason is Rejection.CURRENCY_MISMATCH


def test_currency_applies_to_calls_without_a_sale_too() -> None:
    """One floor, one currency: a mixed feed is a configuration fault seen at once, not at a sale."""
    assert rejected(unanswered(currency="EUR")).reason is Rejection.CURRENCY_MISMATCH


def test_a_malformed_currency_is_still_invalid_value() -> None:
    assert rejected(cdr_dict(currency="usd")).reason is Rejection.INVALID_VALUE


# --- amounts --------------------------------------------------------------------------------


@pytest.mark.parametrize("field", ["sale_amount", "list_price", "sold_price"])
def test_amounts_above_the_bound_are_refused(field: str) -> None:
    caught = rejected(cdr_dict(**{field: "10000000.01"}))
    assert caught.reason is Rejection.AMOUNT_TOO_LARGE
    assert caught.detail.startswith(f"{field}: ")


@pytest.mark.parametrize("field", ["sale_amount", "list_price", "sold_price"])
def test_the_bound_itself_is_accepted(field: str) -> None:
    cdr = parse_cdr(encode(cdr_dict(**{field: "10000000.00"})), now=NOW)
    assert getattr(cdr, field) == Decimal("10000000.00")


def test_the_bound_is_configurable() -> None:
    rules = Settings(max_amount=Decimal("500.00")).cdr_rules
    assert rejected(cdr_dict(sale_amount="500.01"), rules).reason is Rejection.AMOUNT_TOO_LARGE
    assert parse_cdr(encode(cdr_dict(sale_amount="500.00", list_price=None, sold_price=None)), now=NOW,
                     rules=rules).sale_amount == Decimal("500.00")  # fmt: skip


def test_the_schema_limit_stays_invalid_value() -> None:
    assert rejected(cdr_dict(list_price="1e15")).reason is Rejection.INVALID_VALUE


@pytest.mark.parametrize("bad", ["0", "-1", "1e15", "12.345"])
def test_max_amount_setting_is_checked(bad: str) -> None:
    with pytest.raises(ValueError, match="max_amount"):
        Settings(max_amount=bad)


# --- horizon --------------------------------------------------------------------------------


def test_a_call_older_than_the_horizon_is_too_old() -> None:
    caught = rejected(dialed(timedelta(days=35, seconds=1)))
    assert caught.reason is Rejection.TOO_OLD and "35 days" in caught.detail


def test_a_call_just_inside_the_horizon_counts() -> None:
    assert parse_cdr(encode(dialed(timedelta(days=35) - timedelta(seconds=1))), now=NOW).call_id == "c-1"


def test_a_call_from_2000_is_too_old() -> None:
    assert rejected(unanswered(dialed_at="2000-06-01T10:00:00Z", ended_at="2000-06-01T10:00:30Z")).reason \
        is Rejection.TOO_OLD  # fmt: skip


def test_the_horizon_is_configurable() -> None:
    rules = Settings(late_horizon_days=400).cdr_rules
    assert parse_cdr(encode(dialed(timedelta(days=399))), now=NOW, rules=rules).call_id == "c-1"
    one_day = Settings(late_horizon_days=1).cdr_rules
    assert rejected(dialed(timedelta(days=2)), one_day).reason is Rejection.TOO_OLD


def test_the_horizon_holds_in_any_offset() -> None:
    """The same instant, written in three offsets, gets the same answer (cached per offset)."""
    start = NOW - timedelta(days=35, seconds=1)
    for zone in ("+08:00", "-05:00", "Z"):
        text = start.astimezone(datetime.fromisoformat(f"2026-01-01T00:00:00{zone}").tzinfo).isoformat()
        data = unanswered(dialed_at=text, ended_at=text)
        assert rejected(data).reason is Rejection.TOO_OLD, zone


def test_without_now_the_horizon_uses_the_clock() -> None:
    long_ago = datetime.now(UTC) - timedelta(days=60)
    data = unanswered(dialed_at=long_ago.isoformat(), ended_at=long_ago.isoformat())
    with pytest.raises(CDRRejected) as caught:
        parse_cdr(encode(data))
    assert caught.value.reason is Rejection.TOO_OLD


def test_rules_are_checked_in_the_documented_order() -> None:
    """future/too_old, then currency, then amounts: one reason per dead letter."""
    old = dialed(timedelta(days=90)) | {"currency": "USD"}
    assert rejected(old).reason is Rejection.TOO_OLD
    assert rejected(cdr_dict(currency="USD", sale_amount="1e10")).reason is Rejection.CURRENCY_MISMATCH


def test_schema_only_checks_the_shape_and_leaves_the_floor_rules_to_the_worker() -> None:
    """What ``callfloor ingest`` checks before producing: a USD call of 2001 is shaped right."""
    old_usd = unanswered(dialed_at="2001-06-01T10:00:00Z", ended_at="2001-06-01T10:00:30Z", currency="USD")
    assert parse_cdr(encode(old_usd), now=NOW, rules=SCHEMA_ONLY).currency == "USD"
    assert rejected(old_usd).reason is Rejection.TOO_OLD
    assert rejected(cdr_dict(rep_id=" "), SCHEMA_ONLY).reason is Rejection.BAD_IDENTIFIER
    assert rejected(dialed(timedelta(days=-1)), SCHEMA_ONLY).reason is Rejection.FUTURE_EVENT


@pytest.mark.parametrize(
    ("variable", "value"),
    [("CALLFLOOR_CURRENCY", "usd"), ("CALLFLOOR_CURRENCY", "CNY\n"), ("CALLFLOOR_MAX_AMOUNT", "lots"),
     ("CALLFLOOR_LATE_HORIZON_DAYS", "0")],
)  # fmt: skip
def test_a_bad_floor_setting_stops_with_its_name(
    variable: str, value: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The command line stops with exit 2 and the variable's name (no traceback)."""
    monkeypatch.setenv(variable, value)
    assert main(["topics", "describe"]) == 2
    assert f"callfloor: bad setting {variable}:" in capsys.readouterr().err


def test_the_simulator_does_not_reach_past_the_horizon() -> None:
    """Its calls would be too_old for the worker and break its own truth."""
    from simulator import SimulationSpec

    with pytest.raises(ValueError, match="late horizon"):
        SimulationSpec(days=DEFAULT_RULES.late_horizon_days + 1)
