"""How a ledger process ends, for whoever supervises it (`up` restarts it and says why)."""

API_EXIT = 3  # the read API asked for could not start or stopped serving: restart rather than record without it
