"""Per-user limits on what costs the system most: rooms (each holds an agent job process) and tokens."""
