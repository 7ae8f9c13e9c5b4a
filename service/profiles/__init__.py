"""Behavioural profiles and the events of the customer relationship (the notice §4, §6-7)."""
