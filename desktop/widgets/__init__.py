"""Widgets of the viewer: image view, study browser, tag viewer, analysis panels, dialogs."""
