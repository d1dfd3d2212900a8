"""Verification by camera: when a camera ticket is marked resolved, watch that camera and zone again.

The :class:`Verifier` learns of resolved tickets from the ticket API: it polls
``GET /api/v1/verifications/pending`` (every ``poll_s``; at start-up this also catches up on
tickets resolved while the pipeline was down) and, when ``mqtt_host`` is set, wakes up at once on
the API's ``gridsight/tickets/+/status`` events. For each one it opens a :class:`Check` on the
running camera's processor (``CameraProcessor.watchers``) and judges the ticket's rule at the
ticket's zone on every frame the camera judges, for ``window_s`` seconds of footage:

* the rule held in at least ``still_share`` of the frames -> ``still_present`` with the best frame
  as fresh evidence (annotated + raw, bystanders blurred);
* else -> ``gone``, with the last clear frame as the "after" image;
* no frame for ``max_gap_s`` within the window, the footage ended, or the window not done
  ``grace_s`` (wall clock) after it should have been -> ``camera_offline``, with the reason.

The result goes to ``POST /api/v1/tickets/{id}/verification`` (ingest key); the ticket service
applies the lifecycle rule (reopen / verify / note). The pipeline never edits a ticket's status.
Reports are retried until the API answers; one that is lost (a restart) is harmless: the ticket
stays pending and is checked again.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass, field

import httpx

from gridsight.times import iso
from pipeline.client import TicketClient, backoff
from pipeline.evidence import render
from pipeline.incidents import Evidence, IncidentEvent

log = logging.getLogger("gridsight.pipeline.verify")
STATUS_TOPIC = "gridsight/tickets/+/status"


@dataclass
class VerifyOptions:
    window_s: float = 60.0  # footage seconds watched after the resolve
    still_share: float = 0.5  # share of judged frames with the problem that means "still there"
    max_gap_s: float | None = None  # a longer gap between judged frames means the camera dropped out
    grace_s: float = 30.0  # wall seconds past the window before a silent camera counts as offline
    poll_s: float = 30.0
    mqtt_host: str = ""
    mqtt_port: int = 1883
    language: str = "en+zh"
    blur_people: bool = True

    @property
    def gap_limit(self) -> float:
        return self.max_gap_s if self.max_gap_s is not None else max(5.0, self.window_s / 4)


@dataclass
class Check:
    """One resolved ticket being re-watched."""

    ticket_id: int
    number: str
    camera_id: str
    zone_id: str | None
    issue_type: str
    resolved_at: str | None
    started_wall: float = field(default_factory=time.monotonic)
    t0: float | None = None
    last_t: float | None = None
    frames: int = 0
    present: int = 0
    max_gap: float = 0.0
    best: IncidentEvent | None = None  # the best frame showing the problem
    clear: IncidentEvent | None = None  # the last frame without it
    result: dict | None = None  # set when decided
    images: tuple[bytes, bytes] | None = None
    next_try: float = 0.0
    attempts: int = 0

    @property
    def token(self) -> tuple[int, str | None]:
        return self.ticket_id, self.resolved_at


class Verifier:
    def __init__(self, api_url: str, api_key: str = "", options: VerifyOptions | None = None, *,
                 timeout_s: float = 15.0) -> None:
        self.o = options or VerifyOptions()
        self.client = TicketClient(api_url, api_key, timeout_s=timeout_s)
        self.procs: dict[str, object] = {}
        self.checks: dict[tuple[int, str | None], Check] = {}
        self.finished: dict[tuple[int, str | None], dict] = {}  # token -> result (what was reported)
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._mqtt = None
        self.subscribed = threading.Event()  # set once the MQTT subscription is acknowledged

    # --- wiring --------------------------------------------------------------------------
    def attach(self, proc) -> None:
        """Watch ``proc`` (a :class:`~pipeline.processing.CameraProcessor`) for its camera's checks."""
        self.procs[proc.camera.id] = proc
        proc.watchers.append(self._watch)
        self.wake()  # the camera's pending tickets are checked now, not at the next poll

    def detach(self, camera_id: str) -> None:
        """Stop watching a camera (its lease moved to another worker): its undecided checks are
        dropped unreported, so the ticket stays pending and the camera's next holder checks it."""
        with self._lock:
            proc = self.procs.pop(camera_id, None)
            for token, c in list(self.checks.items()):
                if c.camera_id == camera_id and c.result is None:
                    del self.checks[token]
        if proc is not None and self._watch in proc.watchers:
            proc.watchers.remove(self._watch)

    def start(self) -> "Verifier":
        if self.o.mqtt_host:
            self._mqtt = self._subscribe()
        self._thread = threading.Thread(target=self._run, name="verifier", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread:
            self._thread.join(timeout=30)
        if self._mqtt is not None:
            self._mqtt.disconnect()
            self._mqtt.loop_stop()
        self.client.close()

    def wake(self) -> None:
        """Poll the API now (an MQTT status event arrived)."""
        self._wake.set()

    def active(self) -> list[Check]:
        with self._lock:
            return [c for c in self.checks.values() if c.result is None]

    # --- learning of resolved tickets --------------------------------------------------
    def _subscribe(self):
        import paho.mqtt.client as mqtt

        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
        client.on_connect = lambda c, u, f, rc, p: c.subscribe(STATUS_TOPIC, qos=1)
        client.on_subscribe = lambda c, u, mid, codes, p: self.subscribed.set()
        client.on_message = self._on_message
        client.reconnect_delay_set(1, 30)
        client.connect_async(self.o.mqtt_host, self.o.mqtt_port, keepalive=30)
        client.loop_start()
        return client

    def _on_message(self, client, userdata, msg) -> None:
        try:
            event = json.loads(msg.payload)
        except ValueError:
            return
        ticket = event.get("ticket") or {}
        status = event.get("status") or event.get("to_status") or ticket.get("status")
        if status == "resolved" and ticket.get("camera_id", event.get("camera_id")) in self.procs:
            self.wake()

    def poll(self) -> int:
        """Open checks for the pending tickets of the attached cameras; returns how many were opened."""
        if not self.procs:
            return 0
        try:
            items = self.client.pending_verifications(sorted(self.procs))
        except (httpx.HTTPError, ValueError) as exc:
            log.warning("cannot read pending verifications", extra={"error": str(exc)})
            return 0
        opened = 0
        with self._lock:
            for it in items:
                token = (it["ticket_id"], it.get("resolved_at"))
                again = self.finished.get(token, {}).get("outcome") == "camera_offline"  # the API asks again later
                if token in self.checks or (token in self.finished and not again) or it["camera_id"] not in self.procs:
                    continue
                self.checks[token] = Check(it["ticket_id"], it["number"], it["camera_id"], it.get("zone_id"),
                                           it["issue_type"], it.get("resolved_at"))
                opened += 1
                log.info("verifying a resolved ticket", extra={"ticket": it["number"], "camera": it["camera_id"],
                                                               "zone": it.get("zone_id")})
        return opened

    # --- watching ------------------------------------------------------------------------
    def _watch(self, proc, frame, observations, others) -> None:
        """Called by the camera's judge thread for every judged frame."""
        with self._lock:
            mine = [c for c in self.checks.values() if c.result is None and c.camera_id == proc.camera.id]
        for c in mine:
            obs = next((o for o in observations if o.rule.issue_type == c.issue_type
                        and o.place.id == (c.zone_id or "frame")), None)
            if obs is None:
                self._decide(c, "camera_offline", reason=f"camera {c.camera_id} has no {c.issue_type} rule at "
                                                          f"{c.zone_id or 'the whole view'} to judge it by")
                continue
            self._feed(c, obs, frame, others)

    def _feed(self, c: Check, obs, frame, others) -> None:
        t = frame.time
        if c.t0 is None:
            c.t0 = c.last_t = t
        c.max_gap = max(c.max_gap, t - c.last_t)
        c.last_t = t
        c.frames += 1
        polygon = obs.place.points(frame.image.shape).tolist() if obs.place.id != "frame" else None
        subjects = [s.as_dict() for s in obs.subjects]
        if obs.present:
            c.present += 1
            if c.best is None or obs.score > c.best.score:
                c.best = self._event(c, obs.rule, frame, obs.score, subjects, others, polygon)
        else:
            c.clear = self._event(c, obs.rule, frame, 0.0, [], others, polygon)
        if t - c.t0 >= self.o.window_s:
            if c.max_gap > self.o.gap_limit:
                self._decide(c, "camera_offline", reason=f"camera {c.camera_id} sent no frame for {c.max_gap:.0f} s "
                                                          f"during the {self.o.window_s:.0f} s check")
            elif c.present >= self.o.still_share * c.frames:
                self._decide(c, "still_present")
            else:
                self._decide(c, "gone")

    def _event(self, c: Check, rule, frame, score, subjects, others, polygon) -> IncidentEvent:
        ev = Evidence(frame.image.copy(), frame.time, score, subjects, others)
        return IncidentEvent(f"verify:{c.number}", 0, "update", rule, c.camera_id, c.zone_id, c.t0 or frame.time,
                             frame.time, score, subjects, ev, polygon)

    def _decide(self, c: Check, outcome: str, reason: str | None = None) -> None:
        if c.result is not None:  # decided already (the judge thread and the timer may race)
            return
        shown = c.best if outcome == "still_present" else c.clear if outcome == "gone" else None
        result = {"camera_id": c.camera_id, "outcome": outcome, "resolved_at": c.resolved_at,
                  "frames": c.frames, "present_frames": c.present, "reason": reason}
        if c.t0 is not None:
            result.update(window_start=iso(c.t0), window_end=iso(c.last_t))
        if shown is not None:
            result.update(score=round(float(shown.score), 4), detections=shown.detections)
            c.images = render(shown, language=self.o.language, blur_people=self.o.blur_people)
        c.best = c.clear = None  # the frames are not needed any more
        c.result = {k: v for k, v in result.items() if v is not None}
        log.info("verification decided", extra={"ticket": c.number, "outcome": outcome, "frames": c.frames,
                                                "present": c.present})

    def _timeouts(self) -> None:
        now = time.monotonic()
        for c in self.active():
            proc = self.procs.get(c.camera_id)
            if proc is not None and getattr(proc, "done", False):
                self._decide(c, "camera_offline", reason=f"the footage of camera {c.camera_id} ended before the "
                                                          f"{self.o.window_s:.0f} s check was done")
            elif now - c.started_wall > self.o.window_s + self.o.grace_s:
                health = getattr(getattr(proc, "source", None), "health", None)
                why = getattr(health, "error", "") or "no frames"
                self._decide(c, "camera_offline", reason=f"camera {c.camera_id} was offline during the check "
                                                          f"({why}; {c.frames} frames in {now - c.started_wall:.0f} s)")

    # --- reporting -------------------------------------------------------------------------
    def _report(self, c: Check) -> bool:
        """Send one decided check; True when the API has it (or refused it for good)."""
        answer = self.client.post_verification(c.ticket_id, c.result, c.images)
        if answer.verdict == "retry":
            return self._later(c, answer.detail[:200])
        if answer.verdict == "rejected":
            log.error("ticket API refused a verification", extra={"ticket": c.number, "status": answer.status,
                                                                  "body": answer.detail[:500]})
        else:
            body = answer.body or {}
            log.info("verification reported", extra={"ticket": c.number, "outcome": c.result["outcome"],
                                                      "applied": body.get("applied"),
                                                      "status": (body.get("ticket") or {}).get("status")})
        return True

    def _later(self, c: Check, error: str) -> bool:
        c.attempts += 1
        c.next_try = time.monotonic() + backoff(c.attempts, max_s=60.0)
        log.warning("verification not delivered, will retry", extra={"ticket": c.number, "error": error})
        return False

    def _deliver(self) -> None:
        with self._lock:
            due = [c for c in self.checks.values() if c.result is not None and c.next_try <= time.monotonic()]
        for c in due:
            if self._report(c):
                with self._lock:
                    self.checks.pop(c.token, None)
                    self.finished[c.token] = c.result

    def _run(self) -> None:
        next_poll = 0.0
        while not self._stop.is_set():
            if self._wake.is_set() or time.monotonic() >= next_poll:
                self._wake.clear()
                self.poll()
                next_poll = time.monotonic() + self.o.poll_s
            self._timeouts()
            self._deliver()
            self._wake.wait(0.25)


def start_verifier(procs, *, api_url: str | None = None, window_s: float | None = None,
                   blur_people: bool = True) -> Verifier:
    """A started verifier for the processors of ``gridsight watch`` or a worker's leased cameras
    (settings: API URL and key, ``GRIDSIGHT_VERIFY_WINDOW_S``, ``GRIDSIGHT_MQTT_HOST``/``PORT``,
    language)."""
    from gridsight.settings import get_settings

    s = get_settings()
    options = VerifyOptions(window_s=window_s or s.verify_window_s, mqtt_host=s.mqtt_host, mqtt_port=s.mqtt_port,
                            language=s.language, blur_people=blur_people)
    verifier = Verifier(api_url or s.api_url, s.api_key, options)
    for proc in procs:
        verifier.attach(proc)
    return verifier.start()
