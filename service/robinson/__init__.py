"""The Robinson register (ASML's do-not-call extract): loading it, and whether it is fresh."""
