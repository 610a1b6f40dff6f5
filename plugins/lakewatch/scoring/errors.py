"""How a message can fail: retrying may help (transient) or it never will (poison)."""


class PoisonMessage(Exception):
    """A message no retry can process (malformed, corrupt object, unreadable schema).

    The handler sends it to the dead-letter queue at once, with the reason, instead of letting
    it be retried until the queue's redrive policy gives up.
    """


class TransientError(Exception):
    """Worth retrying: the message goes back to its queue (and, after maxReceiveCount
    receives, to the DLQ by the queue's redrive policy). ``object_uri`` names the object."""

    object_uri: str = ""


REASON_LIMIT = 1000  # SQS message attribute values can be longer; consoles truncate


def shorten_reason(reason: str, limit: int = REASON_LIMIT) -> str:
    """``reason`` within ``limit`` characters, the error kept whole where possible.

    Long object keys and URIs are cut in the middle first (their ends, the bucket and the file
    name, say the most); only if that is not enough is the start cut, so the error's own words
    at the end always survive.
    """
    if len(reason) <= limit:
        return reason
    words = reason.split(" ")
    for i in sorted(range(len(words)), key=lambda k: -len(words[k])):
        excess = len(" ".join(words)) - limit
        if excess <= 0:
            break
        word = words[i]
        if len(word) <= 40:
            break
        keep = max(30, len(word) - excess - 1)
        words[i] = word[: keep // 2] + "\u2026" + word[len(word) - (keep - keep // 2) :]
    out = " ".join(words)
    return out if len(out) <= limit else "\u2026" + out[len(out) - limit + 1 :]
