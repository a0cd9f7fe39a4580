"""CXR Lens desktop viewer (PySide6 + pyqtgraph).

Imports only the public API of :mod:`engine`; never torch, timm, transformers or pydicom.
Engine calls are put on threads in one place, :mod:`desktop.workers`.
"""
