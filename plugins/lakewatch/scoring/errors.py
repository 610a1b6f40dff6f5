"""How a message can fail: retrying may help (transient) or it never will (poison)."""


class PoisonMessage(Exception):
    """A message no retry can process (malformed, corrupt object, unreadable schema).

    The handler sends it to the dead-letter queue at once, with the reason, instead of letting
    it be retried until the queue's redrive policy gives up.
    """


class TransientError(Exception):
    """Worth retrying: the message goes back to its queue (and, after maxReceiveCount
    receives, to the DLQ by the queue's redrive policy)."""
