"""ESP webhooks: bounces and complaints reported by Amazon SES, SendGrid,
Postmark and Mailgun (``POST /hooks/{provider}``, docs/deliverability.md).

Each provider has a module that authenticates a request the provider's way
and reads its body into ``service.inbound.events.DeliveryEvent``s; the routes
(``public.py``) add what every hook shares (replay refusal, one transaction)
and hand the events to ``service.inbound.events.record``, the one function
every bounce and complaint goes through, whatever its source.
"""
