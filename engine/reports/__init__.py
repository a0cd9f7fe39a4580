"""Reports: section splitting, the negation-aware labeler, the label set and the Open-i reader.

May import: engine.errors. Never model, images, similar or explain.
"""
