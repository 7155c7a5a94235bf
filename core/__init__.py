"""The bottom layer: errors, settings, image files, memory and bundled samples. Imports nothing of ictc above it."""
