"""The self-service privacy portal at /me: a person asks for a one-time link
to their registered address and, through it, sees and changes what is held."""
