"""Similar cases: hnswlib archives (search, on-disk store, snapshots) and building a user index.

May import: engine.errors, engine.checksums, images, reports, model, engine.gate.
"""
