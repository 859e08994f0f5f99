"""Page bodies: ``overview``, ``runs``, ``system`` (generic) and one field-specific view per system."""
