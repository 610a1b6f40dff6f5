"""IP Insights, our own: a faithful trainer, scorer and SageMaker-compatible model server.

The published algorithm: entities are hashed into ``num_entity_vectors`` learned vectors; an
address goes through an encoder that uses its prefix structure (embeddings of its /8 prefix and
of the whole address, summed) and ``num_ip_encoder_layers`` fully connected layers; the score is
the dot product of the two vectors, trained with binary cross-entropy against random-address and
shuffled-pair negatives.
"""
