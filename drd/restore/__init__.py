"""Incident restores: `drd restore APP` — plan, guard rails, restore on the runbook engine, verify, evidence."""
