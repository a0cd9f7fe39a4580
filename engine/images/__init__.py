"""Images: read DICOM/PNG files into Study/Series/Image and the pure display pipeline.

May import: engine.errors, engine.checksums. Nothing above it (no model, reports, gate).
"""
