"""Inbound mail: mailto unsubscribes and delivery status notifications.

``dsn`` and ``mailto`` read messages (no database), ``service`` applies what
they ask for, ``handler`` is the aiosmtpd handler tying them together and
``server`` runs it (``consentry inbound``, and inside ``consentry run``).
"""
