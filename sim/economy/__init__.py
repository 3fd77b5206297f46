"""Money and work: accounts and the ledger, households and the population, labour flows, merchants and entry."""
