"""Model: FusionModel, preprocessing as pure functions, and the model pack (schema, checksums, selftest).

May import: engine.errors, engine.checksums, engine.gate (feature layout), engine.reports (labels).
"""
