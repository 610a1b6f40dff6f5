"""IP Insights, our own: a faithful trainer, scorer and SageMaker-compatible model server.

The published algorithm: entities are hashed into ``num_entity_vectors`` learned vectors; an
address goes through an encoder that uses its prefix structure (embeddings of its /8 prefix and
of the whole address, summed) and ``num_ip_encoder_layers`` fully connected layers; the score is
the dot product of the two vectors, trained with binary cross-entropy against random-address and
shuffled-pair negatives.
"""

import os

# torch's CPU threads (libgomp) read this once, when torch is first loaded, and only torch's
# two modules here load it. Spinning waiters (the default) collapse on a shared machine: with
# another process on one of two cores, a training step waited at every parallel region for
# the descheduled thread, and an epoch ran at 10,000 pairs/s instead of 250,000. Sleeping
# waiters cost nothing measurable on an idle machine. A value the user set wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
