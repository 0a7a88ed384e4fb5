"""The bundled sample dataset and the data-preparation code (`tastebud prepare`)."""
