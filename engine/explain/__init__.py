"""Explanations: Grad-CAM, attention, Integrated Gradients, overlays and report-word attributions.

May import: engine.errors, images (display), model.
"""
