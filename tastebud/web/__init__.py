"""The prediction web page (`tastebud serve`)."""
