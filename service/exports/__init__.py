"""Contacts out as CSV, with the columns an exporting role may take and nothing else."""
