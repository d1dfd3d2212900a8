"""Frame sources, motion gating, batching scheduler, tracking, zones, issue rules,
incidents, evidence and the client that posts incidents to the ticket API."""
