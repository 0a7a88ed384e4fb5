"""The tf.Example feature keys, kept importable here; they are defined in preprocessing/contract.py."""

from preprocessing.contract import EMBEDDING_KEY, IMAGE_KEY, KEY_KEY, LABEL_INDEX_KEY, LABEL_KEY

__all__ = ["EMBEDDING_KEY", "IMAGE_KEY", "KEY_KEY", "LABEL_INDEX_KEY", "LABEL_KEY"]
