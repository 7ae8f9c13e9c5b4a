"""People's rights over their data (GDPR 15-21; the notice §11-12)."""
