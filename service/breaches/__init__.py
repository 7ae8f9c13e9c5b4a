"""The breach register (GDPR 33(5)): every personal-data breach, notified or not."""
