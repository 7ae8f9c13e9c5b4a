"""Signup forms: staff define them (/api/v1/forms); people fill them in at
/s/{slug} or from the company's own site, and confirm by mail (double opt-in)."""
