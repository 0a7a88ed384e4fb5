"""Images, backbones and the Transform component's preprocessing_fn."""
