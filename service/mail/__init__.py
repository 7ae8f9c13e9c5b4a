"""Campaign email: rendering marketer templates into trusted layouts, and MIME messages."""
