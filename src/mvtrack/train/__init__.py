"""Training of the four networks (view x stage) from synthetic or annotated cines."""
