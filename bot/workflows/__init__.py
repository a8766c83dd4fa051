"""What an incident does: set up, check off, escalate, update, resolve, review. Callable from a slash
command, a button, the scheduler or a test alike; every change is one store call, then `sync`."""
