"""The built-in detectors, one module per typology, registered by entry point."""
