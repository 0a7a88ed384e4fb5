"""Feature names shared by data preparation, Transform, the Trainer and serving."""

# Raw tf.Example features written by `tastebud prepare`.
IMAGE_KEY = "image"  # the original encoded bytes
LABEL_KEY = "label"  # the label string, as in dict.txt
KEY_KEY = "key"  # the image's URI: a stable key for mistakes and predictions

# Transformed features produced by preprocessing_fn.
EMBEDDING_KEY = "embedding"  # the backbone's pooled bottleneck
LABEL_INDEX_KEY = "label_index"  # line number of the label in dict.txt (-1: unknown)
