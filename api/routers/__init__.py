"""HTTP routers of the ticket API; thin: parse, authorise, call a service, commit, answer."""
