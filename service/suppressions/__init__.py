"""The suppression list: keyed hashes of addresses and numbers never to be
contacted again, whoever put them there (a bounce, an erasure, an objection).
One writer (``service``), one look-up the gate and the others share."""
