"""The processors register (GDPR 28, 30(1)(d)-(e)): who handles the data for us, and where."""
