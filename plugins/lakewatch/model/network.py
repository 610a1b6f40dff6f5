"""The IP Insights network in PyTorch.

Entity vectors live in an embedding table indexed by the entity's hash bucket. An address's
prefix tokens index rows of a second table; their sum is the address's base vector, which
``num_ip_encoder_layers`` fully connected layers (ReLU between them) turn into its embedding.
Both tables use sparse gradients: a batch touches a few thousand of their rows, and updating
only those is what makes training fast.
"""

from __future__ import annotations

import torch
from torch import nn


class IPInsightsNet(nn.Module):
    def __init__(self, num_entity_vectors: int, ip_hash_buckets: int, dim: int, layers: int):
        super().__init__()
        # given their initial values (below) rather than drawing and overwriting them
        self.entity = nn.Embedding(
            num_entity_vectors, dim, sparse=True, _weight=torch.empty(num_entity_vectors, dim)
        )
        self.ip_tokens = nn.Embedding(
            ip_hash_buckets, dim, sparse=True, _weight=torch.zeros(ip_hash_buckets, dim)
        )
        blocks: list[nn.Module] = []
        for i in range(layers):
            blocks.append(nn.Linear(dim, dim))
            if i < layers - 1:
                blocks.append(nn.ReLU())
        self.encoder = nn.Sequential(*blocks)
        # Address rows start at zero: a prefix never seen in training adds nothing to an
        # address's embedding, and the untouched rows of the table compress to nothing.
        nn.init.normal_(self.entity.weight, std=0.5)
        for module in self.encoder:
            if isinstance(module, nn.Linear):
                nn.init.eye_(module.weight)
                with torch.no_grad():
                    module.weight.add_(torch.randn_like(module.weight) * dim**-0.5 * 0.1)
                nn.init.zeros_(module.bias)

    def encode_ip(self, tokens: torch.Tensor) -> torch.Tensor:
        """(n, levels) prefix tokens -> (n, dim) address embeddings."""
        return self.encoder(self.ip_tokens(tokens).sum(dim=1))

    def forward(self, entity_rows: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        return (self.entity(entity_rows) * self.encode_ip(tokens)).sum(dim=1)

    def linear_encoder(self) -> nn.Linear | None:
        """The encoder's one layer when it is a single linear map (SageMaker's default of one
        encoder layer), else None."""
        layers = list(self.encoder)
        return layers[0] if len(layers) == 1 and isinstance(layers[0], nn.Linear) else None

    def sparse_parameters(self) -> list[torch.Tensor]:
        return [self.entity.weight, self.ip_tokens.weight]

    def dense_parameters(self) -> list[nn.Parameter]:
        return list(self.encoder.parameters())
