"""Examples that ship with the package: the demo trainable and ``quickstart.yaml``."""
