"""Delivery, whatever the channel: a messenger sends one prepared message and
says what happened; the batch loop around it (the gate again right before
sending, the exactly-once journal, each recipient's outcome) is written once.

- ``messenger``: the ``Messenger`` protocol, ``Outgoing`` (a prepared message)
  and ``Delivery`` (its outcome), shared by every channel;
- ``smtp`` and ``email``: the pool of SMTP connections and the email messenger;
- ``journal``: the Redis record of accepted messages that keeps a crash from
  sending twice;
- ``batch``: the loop a campaign's batch (and any later send list) runs;
- ``throttle``: per receiving domain concurrency and rate, slowed by 4xx
  deferrals; a busy domain never holds up the others;
- ``transactional``: system mail (notices, confirmations): never tracked,
  never capped, its own sender addresses.
"""
