"""The campaign benchmark: audience, send list and real sending, end to end.

    .venv/bin/python -m bench.campaign [--contacts N] [--database sqlite|postgresql]
                                       [--workers 1,2,4] [--out BENCHMARKS.md]

On a fresh database (an SQLite file in a temporary directory, or a throwaway
PostgreSQL from tests.support.postgres) migrated with the real migrations, it
writes N contacts with a realistic consent mix (bench/seed.py) and measures,
in one run:

1. the audience count of one campaign over all N contacts
   (``queries.audience`` through ``gate_for``), with its breakdown;
2. building the send list (``queries.build_send_list``) and its batches
   (``queries.pending_batches``), as ``sending.start`` does;
3. two references against the same sink: Postfix's ``smtp-source`` and a bare
   aiosmtplib loop sending pre-built bytes over 4 reused connections;
4. the exactly-once window the service controls: from ``SmtpPool.send``
   returning SENT to the journal HSET returning, in the delivery layer's own
   loop (``service.delivery.batch.send_all``), in-process;
5. end-to-end sending with 1, 2, 4 ... real ``consentry worker`` processes
   against Postfix's ``smtp-sink``, each run a fresh campaign over the same
   contacts; a run's recipients are the contacts tagged ``bench`` (a fixed
   subset, ``--send-contacts``) so that it stays short when N is large. One
   more 1-worker run over the ``bench-small`` tag compares peak memory;
6. a cProfile of one batch run in-process, to see what dominates.

It prints a Markdown section and, with ``--out``, puts it into that file
(replacing its own earlier section for the same database and N). Everything it
starts listens on 127.0.0.1 only and is stopped before it exits.

The modules, in the order of a run: ``cli`` (options, set-up, the order of the
measurements), ``context`` (what they share), ``audience`` (1, 2 and the query
plans), ``references`` (3), ``window`` (4 and the CPU per step), ``runs`` (5),
``profile`` (6); ``results`` holds what they found, ``render`` and
``findings`` write it up.
"""
