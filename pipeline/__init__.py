"""The TFX pipeline definition (pipeline.py) and every knob it reads (configs.py)."""
