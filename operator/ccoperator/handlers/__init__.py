"""The work behind each kopf handler; `ccoperator.main` only registers and delegates."""
