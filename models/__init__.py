"""The Trainer's model code: the classification head trained on bottleneck embeddings."""
