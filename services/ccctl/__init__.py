"""`ccctl`: the command line of the contact center platform (apply and inspect config, run locally)."""
