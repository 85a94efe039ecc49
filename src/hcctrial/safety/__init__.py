"""Safety: CTCAE grading, adverse events, CRS/ICANS (ASTCT 2019), DLT rules, dose escalation."""
