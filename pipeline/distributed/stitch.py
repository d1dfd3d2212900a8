"""Stitching: segment results, in footage order, into one job's incidents (one key each).

Segments run in parallel, so no segment knows what the one before it saw. Each reports its
incidents as *records* (one per incident key its :class:`~pipeline.incidents.IncidentBook`
made), and the committer folds them in segment order into a small state, the same way one
long-running book would have:

* an incident still open at the end of segment ``k`` and seen again at the start of segment
  ``k + 1`` (its warm-up rebuilt it) is the **same** incident: same key, one ticket;
* a record of the same place that starts within the rule's ``reopen_s`` of the previous
  occurrence's last sighting reopens that key (the book's own reopen rule, across the cut);
* anything else gets the key its segment's book gave it (``camera:type:place:<first seen>``),
  which is what a single process would have given it.

``seq`` numbers come from the state (one per key per committed segment), so committing a
segment twice (a committer killed after delivering) posts the same ``(key, seq)`` again and the
ticket API ignores it. The posts are built here; delivering them is the caller's job.

>>> rec = dict(key="c:fire:frame:100", issue_type="fire", zone_id=None, first_seen=100.0,
...            last_seen=130.0, open_at_end=True, score=0.8, detections=[], evidence=None,
...            meta={}, reopen_s=300)
>>> state = new_state()
>>> posts = fold(state, [rec], camera_id="c", job_id="j")
>>> [(p["incident"]["key"], p["incident"]["seq"], p["incident"]["event"]) for p in posts]
[('c:fire:frame:100', 1, 'open')]
>>> later = dict(rec, key="c:fire:frame:131", first_seen=131.0, last_seen=150.0, open_at_end=False)
>>> [(p["incident"]["key"], p["incident"]["seq"], p["incident"]["event"])
...  for p in fold(state, [later], camera_id="c", job_id="j")]
[('c:fire:frame:100', 2, 'close')]
"""

from __future__ import annotations

from gridsight.incident import IncidentIn, incident_body
from pipeline.client import utc


def new_state() -> dict:
    # keys: job key -> {seq, best, first_seen}; places: "type|zone" -> {key, last_seen, open}
    return {"keys": {}, "places": {}}


def fold(state: dict, records: list[dict], *, camera_id: str, job_id: str, min_gain: float = 0.05) -> list[dict]:
    """Fold one segment's records into ``state`` (in place); return the posts it makes."""
    posts = []
    seen_places: set[str] = set()
    for rec in sorted(records, key=lambda r: (r["first_seen"], r["key"])):
        place = f"{rec['issue_type']}|{rec['zone_id'] or ''}"
        prev = state["places"].get(place)
        continues = (prev is not None and place not in seen_places
                     and (prev["open"] or rec["first_seen"] - prev["last_seen"] <= rec["reopen_s"]))
        seen_places.add(place)
        key = prev["key"] if continues else rec["key"]
        k = state["keys"].get(key)
        is_new = k is None
        if is_new:
            k = state["keys"][key] = {"seq": 0, "best": -1.0, "first_seen": rec["first_seen"]}
        reopened = continues and not prev["open"]
        k["seq"] += 1
        event = "open" if is_new or reopened else "update"
        if not rec["open_at_end"]:
            event = "close" if not (is_new or reopened) else event
        with_evidence = rec.get("evidence") is not None and rec["score"] >= k["best"] + min_gain
        if with_evidence:
            k["best"] = rec["score"]
        state["places"][place] = {"key": key, "last_seen": rec["last_seen"], "open": rec["open_at_end"]}
        meta = rec.get("meta") or {}
        incident = IncidentIn(
            key=key, seq=k["seq"], event=event, issue_type=rec["issue_type"], source="batch", camera_id=camera_id,
            zone_id=rec["zone_id"], job_id=job_id, first_seen=utc(k["first_seen"]), last_seen=utc(rec["last_seen"]),
            score=round(float(rec["score"]), 4), detections=rec["detections"],
            **{f: meta[f] for f in ("category_code", "name_en", "name_zh", "severity") if meta.get(f)})
        posts.append({"incident": incident_body(incident), "evidence": rec.get("evidence") if with_evidence else None})
    # places open before this segment with no record in it: the problem ended at the cut
    for place, p in state["places"].items():
        if place not in seen_places and p["open"]:
            p["open"] = False
    return posts
