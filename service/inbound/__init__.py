"""Inbound mail: mailto unsubscribes, delivery status notifications and replies.

``dsn``, ``mailto`` and ``reply_text`` read messages (no database),
``service`` and ``replies`` apply what they ask for, ``handler`` is the
aiosmtpd handler tying them together and ``server`` runs it (``consentry
inbound``, and inside ``consentry run``).
"""
