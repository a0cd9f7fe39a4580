"""Side-by-side pane: another image (e.g. a similar case) that follows the main view's zoom and pan,
and its window when both images are in the same units."""
from __future__ import annotations

from PySide6 import QtWidgets

from desktop.widgets.image_view import ImageView


class ComparePane(QtWidgets.QWidget):
    """A title, a close button and an :class:`ImageView` slaved to a main view."""

    def __init__(self, main: ImageView, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.main = main
        self.view = ImageView()
        self.title = QtWidgets.QLabel(wordWrap=True)
        self.title.setProperty("class", "dim")
        self.title.setSizePolicy(QtWidgets.QSizePolicy.Ignored, QtWidgets.QSizePolicy.Preferred)
        close = QtWidgets.QToolButton(text="Close (C)", autoRaise=True)
        close.clicked.connect(self.hide)
        header = QtWidgets.QHBoxLayout()
        header.addWidget(self.title, 1)
        header.addWidget(close)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(header)
        layout.addWidget(self.view)
        self.sync_window = True
        main.view_changed.connect(self.follow_range)
        main.window_changed.connect(self.follow_window)
        self.hide()

    def show_image(self, data, title: str, sync_window: bool, inverted: bool) -> None:
        """Show ``data``; the window follows the main image when ``sync_window`` (same units)."""
        self.sync_window = sync_window and not data.is_colour
        follows = "window and zoom" if self.sync_window else "zoom"
        self.title.setText(f"  {title}   ({follows} follow the main image)")
        self.show()
        self.view.set_image(data)
        if self.sync_window and self.main.window is not None:
            self.view.set_window(self.main.window)
        self.view.set_inverted(inverted)

    def follow_range(self, view_range) -> None:
        """Show the same part of the film as the main view (scaled by the image sizes)."""
        main, other = self.main.data, self.view.data
        if not self.isVisible() or main is None or other is None:
            return
        sy = other.values.shape[0] / main.values.shape[0]
        sx = other.values.shape[1] / main.values.shape[1]
        (x0, x1), (y0, y1) = view_range
        self.view.set_view_range(((x0 * sx, x1 * sx), (y0 * sy, y1 * sy)))

    def follow_window(self, window) -> None:
        """Apply the main view's window when the images share units."""
        if self.isVisible() and self.sync_window and self.view.data is not None:
            self.view.set_window(window)
