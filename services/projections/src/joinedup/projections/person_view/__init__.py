"""The unified person view: one de-duplicated view per person across agencies."""
