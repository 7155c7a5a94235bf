"""ictc: image clustering conditioned on text criteria."""
