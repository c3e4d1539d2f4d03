"""FreeSWITCH ``mod_json_cdr``: one JSON document per leg, channel variables under ``variables``.

Files are ``<uuid>.cdr.json`` (one pretty-printed document each, ``a_``/``b_`` prefixed when
both legs are logged) or JSON lines. Variable values are URL-decoded (``encode-values``
defaults to true). A B leg carries ``originating_leg_uuid``: its call id is its A leg's,
so a bridged call counts once.

An answer counts for the floor only where a person was bridged (as for Asterisk, issue 26):
FreeSWITCH sets ``bridge_epoch``/``bridge_stamp`` when a leg is bridged to another
(``switch_channel_set_bridge_time``, called from ``switch_ivr_bridge.c``, which also sets
``last_bridge_to`` to the other leg's uuid), and writes ``bridge_epoch`` ``0`` for a leg that
never was. A leg the switch answered itself (an IVR, voicemail, a playback, ``park``) and
hung up unbridged has ``answer_epoch`` and ``billsec`` but ``bridge_epoch`` 0 and no
``last_bridge_to``: it is read as unanswered (``pbx_answered``), its disposition from its
hangup cause. A leg answered by an IVR and bridged later is answered at the bridge: talk is
from ``bridge_epoch`` to the end, the IVR's seconds are not talk. A document without any of
these variables (older FreeSWITCH versions wrote no ``bridge_epoch``) cannot tell: its
answer counts.

Talk time is ``billsec``, hold included (what FreeSWITCH bills and the floor counts by
default); with the mapping's ``talk_includes_hold: false`` it is ``billsec`` less
``hold_accum_seconds``, and ``answered_at`` moves later by the held time, because CDR v1
requires ``talk_seconds`` = ``ended_at`` - ``answered_at``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta
from typing import Any

from ingest.adapter import Adapter
from ingest.clock import LocalClock
from ingest.legs import Leg
from ingest.mapping import IngestMapping, Rule
from ingest.records import encoded_fields, json_records, required, whole_seconds
from ingest.rejects import IngestRejection, Unmappable
from ingest.sources import LineFeed, SourceRecord

# hangup_cause of a leg that was never answered -> disposition (Q.850 names, as FreeSWITCH logs them)
HANGUP_CAUSES = {
    "NO_ANSWER": "no_answer", "NO_USER_RESPONSE": "no_answer", "ORIGINATOR_CANCEL": "no_answer",
    "ALLOTTED_TIMEOUT": "no_answer", "PROGRESS_TIMEOUT": "no_answer", "NORMAL_CLEARING": "no_answer",
    "USER_BUSY": "busy",
    "NORMAL_CIRCUIT_CONGESTION": "congestion", "SWITCH_CONGESTION": "congestion",
    "CALL_REJECTED": "failed", "UNALLOCATED_NUMBER": "failed", "NUMBER_CHANGED": "failed",
    "INVALID_NUMBER_FORMAT": "failed", "NETWORK_OUT_OF_ORDER": "failed",
    "DESTINATION_OUT_OF_ORDER": "failed", "NORMAL_TEMPORARY_FAILURE": "failed",
    "RECOVERY_ON_TIMER_EXPIRE": "failed", "SERVICE_UNAVAILABLE": "failed",
    "INCOMPATIBLE_DESTINATION": "failed", "NO_ROUTE_DESTINATION": "failed",
    "SUBSCRIBER_ABSENT": "failed", "MEDIA_TIMEOUT": "failed",
}  # fmt: skip


# what switch_ivr_bridge.c leaves on a leg that was bridged (``last_bridge_to`` stays after the bridge)
BRIDGE_MARKS = ("last_bridge_to", "bridge_to", "signal_bond")


def _variables(document: dict[str, Any]) -> dict[str, str]:
    variables = document.get("variables")
    return encoded_fields(variables) if isinstance(variables, dict) else {}


class FreeswitchJsonAdapter(Adapter):
    name = "freeswitch-json"
    records_hold = True
    defaults = {
        "rep": [Rule(field="rep_id"), Rule(field="cc_agent"), Rule(field="accountcode")],
        "team": [Rule(field="team_id"), Rule(value="unassigned")],
        "campaign": [Rule(field="campaign_id"), Rule(value="unassigned")],
        "amd": [Rule(field="amd_result"), Rule(field="amd_status")],
    }  # fmt: skip

    def __init__(self, mapping: IngestMapping, clock: LocalClock) -> None:
        super().__init__(mapping, clock)
        self.causes = {**HANGUP_CAUSES, **self.mapping.hangup_causes}

    def unreadable_advice(self) -> str:
        return ("freeswitch-json reads mod_json_cdr documents: one per .json file, or JSON objects one "
                "per line or one after another on stdin (docs/integrate/dialers.md).")  # fmt: skip

    def records(self, feed: LineFeed, origin: str, *, whole_file: bool) -> Iterator[SourceRecord]:
        return json_records(feed, origin, _variables, whole=whole_file)

    def _moment(self, fields: Mapping[str, str], kind: str, not_before: datetime | None) -> datetime | None:
        epoch = fields.get(f"{kind}_epoch", "").strip()
        if epoch and not re.fullmatch(r"\d+", epoch):
            raise Unmappable(IngestRejection.BAD_NUMBER, f"{kind}_epoch: {epoch!r} is not a number")
        if epoch:
            return self.clock.from_epoch(int(epoch)) if int(epoch) > 0 else None
        stamp = fields.get(f"{kind}_stamp", "").strip()
        return self.clock.parse(stamp, not_before=not_before) if stamp else None

    def leg(self, record: SourceRecord) -> Leg:
        fields = record.fields
        if record.fields == {}:
            raise Unmappable(
                IngestRejection.MISSING_FIELD, "variables: absent (not a mod_json_cdr document?)"
            )
        uuid = required(fields, "uuid")
        started = self._moment(fields, "start", None)
        if started is None:
            raise Unmappable(IngestRejection.MISSING_FIELD, "start_epoch/start_stamp: empty or absent")
        answered = self._moment(fields, "answer", started)
        ended = self._moment(fields, "end", started)
        if ended is None:
            raise Unmappable(IngestRejection.MISSING_FIELD, "end_epoch/end_stamp: empty or absent")
        billsec = whole_seconds(fields, "billsec") if answered is not None else 0
        pbx_answered = False
        if answered is not None:
            bridged = self._moment(fields, "bridge", started)
            if bridged is not None and bridged > answered:  # answered by an IVR, bridged later
                billsec = max(billsec - int((bridged - answered).total_seconds()), 0)
                answered = bridged
            elif (
                bridged is None and "bridge_epoch" in fields and not any(fields.get(m) for m in BRIDGE_MARKS)
            ):
                pbx_answered, answered, billsec = True, None, 0  # the switch answered; nobody was bridged
        if answered is not None and not self.mapping.talk_includes_hold:
            # CDR v1 keeps talk_seconds = ended_at - answered_at: the held time moves the answer later
            held = min(
                whole_seconds(fields, "hold_accum_seconds") if fields.get("hold_accum_seconds") else 0,
                billsec,
            )
            answered, billsec = answered + timedelta(seconds=held), billsec - held
        if answered is not None:
            disposition = "answered"
        else:
            cause = required(fields, "hangup_cause").upper()
            if cause not in self.causes:
                raise Unmappable(IngestRejection.UNKNOWN_STATUS,
                                 f"hangup_cause {cause!r} is not in the table (hangup_causes)")  # fmt: skip
            disposition = self.causes[cause]
        call_key = fields.get("originating_leg_uuid", "").strip() or uuid
        return self.make_leg(record, f"fs-{call_key}", started=started, answered=answered, ended=ended,
                             disposition=disposition, talk_seconds=billsec,
                             pbx_answered=pbx_answered)  # fmt: skip
