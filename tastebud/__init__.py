"""tastebud: transfer-learning image classification on TFX."""

__version__ = "0.1.0"
