"""The public-routes benchmark: one-click unsubscribe, open pixel and click under load.

    .venv/bin/python -m bench.public [--duration 10] [--connections 32] [--processes 1,2]
                                     [--contacts 30000] [--profile] [--out BENCHMARKS.md]

Needs wrk (``apt-get install -y wrk``); ``--profile`` also needs py-spy.

On a fresh SQLite database migrated with the real migrations and an embedded
Redis, it writes N contacts with bench/seed.py's consent mix and, for each API
process count, serves two apps side by side with uvicorn on 127.0.0.1, with
the same options (``--workers P``, uvloop, httptools, no access log), and
loads one at a time, each route right after its ceiling:

1. the ceiling: a minimal Litestar app (``create_ceiling_app``) with one GET
   route answering the pixel's bytes and one POST route reading a form, each
   at a path of the same shape as the public route it bounds;
2. the real app, ``service.app:create_app``: the open pixel
   (``GET /t/o/{token}.gif``), the click redirect (``GET /t/c/{token}``, not
   followed) and the one-click unsubscribe (``POST /u/{token}`` with
   ``List-Unsubscribe=One-Click``).

Each measurement is one wrk run of a fixed duration after a short warm-up
(another campaign's tokens, so it stays out of the accounting). A Lua script
walks a file of request paths, every request another signed token, each wrk
thread its own stride, and reports requests, latency percentiles, errors and
how many requests each thread sent. Then every event is accounted for:

* pixel and click: the Redis stream is counted by kind and by contact
  (tracked, not tracked, aggregate), ``events.drain`` stores it, and the rows
  stored are compared with what the consent gate lets be stored and with
  wrk's completed responses. A response wrk counted was published; at most
  one request per connection can have been published without wrk counting
  its response when the duration ran out;
* one-click: the ledger's withdrawals for the run's campaign against the
  contacts whose requests wrk sent, and those it surely completed (all but
  the last request of each connection);
* one-click repeats: other contacts' tokens, each sent several times at once
  (a provider's retry beside the person's own click), must answer 200 and
  leave one withdrawal per contact.

With ``--profile``, each public route runs once more on the 1-process server
under ``py-spy record --gil`` (not measured), and the section says where its
Python time goes.

No worker runs during the load (the stream is drained afterwards), so the
figures are the API process's alone. The target (issue 4): each public route
within 2x of the ceiling measured in the same run (requests/s at least half
of it, p99 at most twice it), no error under load, every event accounted for.

It prints a Markdown section and, with ``--out``, puts it into that file
(replacing its own earlier section). Everything it starts listens on
127.0.0.1 only and is stopped before it exits, also on an error or Ctrl-C.

The modules: ``cli`` (options, set-up, the campaigns each run sends), ``run``
(one process count, measured and accounted for), ``ceiling`` and ``servers``
(the apps under load), ``wrk`` (the load generator), ``data`` (the register,
the campaigns, the routes), ``accounting`` (events and ledger against the
requests), ``profile`` (py-spy), ``render`` (the section and its verdict).
"""

from bench.public.ceiling import create_ceiling_app

# uvicorn serves the ceiling by this name (``--factory bench.public:create_ceiling_app``),
# as the commands in BENCHMARKS.md show it.
__all__ = ["create_ceiling_app"]
