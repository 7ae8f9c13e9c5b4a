"""The audit trail: recording, the hash chain, search and verification."""
