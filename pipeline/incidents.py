"""Incidents: one per camera, issue type and place, however long the problem lasts.

An :class:`IncidentBook` per camera turns the rule observations of every processed frame into
incident events (``open`` / ``update`` / ``close``):

* **opens** when the rule's objects have been there for ``persistence_s`` (gaps shorter than
  ``clear_s`` do not break that, but they must be seen in at least ``min_presence`` of the frames)
  and one of them has been still for ``dwell_s``;
* **updates** when the best evidence improves (higher score) or every ``heartbeat_s``;
* **closes** when the objects have been gone for ``clear_s`` (a flicker does not close it);
* **reopens** under the same key when the problem comes back within ``reopen_s`` of closing;
* keys are per place, so a tracker id switch never makes a second incident; ``seq`` counts the
  events of one key (the ticket API ignores a ``seq`` it has already applied);
* the clock never runs backwards (a time before the last one counts as the last one); a jump
  ahead longer than ``clear_s`` restarts a pending incident (nobody watched in between).

A :class:`KeyLedger` (see :mod:`pipeline.outbox`) can keep keys and seqs across restarts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from pipeline.rules import IssueRule, Observation


class KeyLedger(Protocol):
    def recall(self, place_key: str) -> tuple[str, int, float] | None: ...  # key, seq, last_seen
    def remember(self, place_key: str, key: str, seq: int, last_seen: float) -> None: ...


@dataclass
class Evidence:
    """The frame that shows the incident best, with what was detected in it."""

    frame: np.ndarray | None
    time: float
    score: float
    subjects: list[dict]  # [{class_name, score, box, track_id}]
    others: list[dict] = field(default_factory=list)  # every other detection (people to blur)


@dataclass
class IncidentEvent:
    key: str
    seq: int
    event: str  # open | update | close
    rule: IssueRule
    camera_id: str
    zone_id: str | None
    first_seen: float
    last_seen: float
    score: float
    detections: list[dict]
    evidence: Evidence | None
    place_polygon: Any = None  # zone polygon in pixels, for the annotated frame


@dataclass
class _State:
    rule: IssueRule
    place_id: str
    status: str = "idle"  # idle | pending | open | closed
    since: float = 0.0  # presence began (pending) / first_seen (open)
    last_true: float = 0.0
    last_obs: float = 0.0
    key: str | None = None
    seq: int = 0
    closed_at: float = 0.0
    best: Evidence | None = None
    best_sent: float = -1.0
    first_seen: float = 0.0
    frames: int = 0  # frames judged since pending began
    hits: int = 0  # of which the objects were there
    last_sent: float = 0.0
    polygon: Any = None


class IncidentBook:
    def __init__(self, camera_id: str, *, heartbeat_s: float = 300.0, min_gain: float = 0.05,
                 min_presence: float = 0.5, ledger: KeyLedger | None = None) -> None:
        self.camera_id = camera_id
        self.min_presence = min_presence
        self.heartbeat_s = heartbeat_s
        self.min_gain = min_gain
        self.ledger = ledger
        self.states: dict[tuple[str, str], _State] = {}
        self.last_t: float | None = None

    def open_incidents(self) -> list[str]:
        return [s.key for s in self.states.values() if s.status == "open"]

    def observe(self, observations: list[Observation], t: float, frame: np.ndarray | None = None,
                others: list[dict] | None = None) -> list[IncidentEvent]:
        if self.last_t is not None and t < self.last_t:
            t = self.last_t
        self.last_t = t
        events = []
        for obs in observations:
            k = (obs.rule.issue_type, obs.place.id)
            st = self.states.get(k)
            if st is None:
                st = self.states[k] = _State(obs.rule, obs.place.id)
            if frame is not None and obs.place.id != "frame":
                st.polygon = obs.place.points(frame.shape).tolist()
            ev = self._step(st, obs, t, frame, others or [])
            if ev is not None:
                events.append(ev)
        return events

    # --- the state machine ---------------------------------------------------
    def _step(self, st: _State, obs: Observation, t: float, frame, others) -> IncidentEvent | None:
        rule = st.rule
        gap = t - st.last_obs if st.last_obs else 0.0
        st.last_obs = t
        st.frames += 1
        if obs.present:
            if st.status in ("idle", "closed") or (
                    st.status == "pending" and (t - st.last_true > rule.clear_s or gap > rule.clear_s)):
                st.status, st.since, st.best, st.frames, st.hits = "pending", t, None, 1, 0
                if obs.rule.dwell_s > 0 and obs.subjects:  # still objects were there since they stopped
                    st.since = min(t, min(s.still_since for s in obs.subjects))
            st.last_true = t
            st.hits += 1
            self._consider(st, obs, t, frame, others)
            if st.status == "pending":
                if t - st.since >= rule.persistence_s and obs.ready and st.hits >= self.min_presence * st.frames:
                    return self._open(st, t)
                return None
            improved = st.best is not None and st.best.score >= st.best_sent + self.min_gain
            if improved or t - st.last_sent >= self.heartbeat_s:
                return self._emit(st, "update", t)
            return None
        if st.status == "pending" and t - st.last_true > rule.clear_s:
            st.status, st.best = ("closed" if st.key else "idle"), None
        elif st.status == "open" and t - st.last_true >= rule.clear_s:
            st.status, st.closed_at = "closed", st.last_true
            ev = self._emit(st, "close", st.last_true)
            st.best = None
            return ev
        return None

    def _consider(self, st: _State, obs: Observation, t: float, frame, others) -> None:
        if st.best is None or obs.score > st.best.score:
            subject_ids = {s.id for s in obs.subjects}
            st.best = Evidence(None if frame is None else frame.copy(), t, obs.score,
                               [s.as_dict() for s in obs.subjects],
                               [o for o in others if o.get("track_id") not in subject_ids])

    def _open(self, st: _State, t: float) -> IncidentEvent:
        place_key = f"{self.camera_id}:{st.rule.issue_type}:{st.place_id}"
        if not (st.key and st.since - st.closed_at <= st.rule.reopen_s):
            remembered = self.ledger.recall(place_key) if self.ledger else None
            if remembered and 0 <= st.since - remembered[2] <= st.rule.reopen_s:
                st.key, st.seq, st.first_seen = remembered[0], remembered[1], st.since
            else:
                st.key, st.seq, st.first_seen = f"{place_key}:{int(st.since)}", 0, st.since
        st.status = "open"
        return self._emit(st, "open", t)

    def _emit(self, st: _State, event: str, t: float) -> IncidentEvent:
        st.seq += 1
        st.last_sent = t
        best = st.best if event != "close" else None
        if best is not None:
            st.best_sent = best.score
        elif event == "open":
            st.best_sent = -1.0
        if self.ledger is not None:
            self.ledger.remember(f"{self.camera_id}:{st.rule.issue_type}:{st.place_id}", st.key, st.seq, t)
        return IncidentEvent(st.key, st.seq, event, st.rule, self.camera_id,
                             None if st.place_id == "frame" else st.place_id, st.first_seen, t,
                             best.score if best else st.best_sent, best.subjects if best else [], best, st.polygon)
