"""Engagement tracking: opens, clicks and visits, reduced and consent-gated.

``events.publish`` is what a request handler calls; ``events.drain`` is what a
worker runs; ``useragent`` reduces user agents and URLs.
"""
