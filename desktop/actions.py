"""The viewer's commands as data: text, shortcuts, menu and handler; the help dialog lists them."""
from __future__ import annotations

from dataclasses import dataclass

from PySide6 import QtGui

from desktop.windowing import PRESET_TITLES


@dataclass(frozen=True)
class ActionSpec:
    """One command: ``handler`` names a method of the main window (called with ``args``)."""

    key: str
    text: str
    shortcuts: tuple[str, ...]
    menu: str
    handler: str
    args: tuple = ()
    checkable: bool = False
    toolbar: bool = False


_PRESET_KEYS = {"default": "1", "lung": "2", "mediastinum": "3", "bone": "4", "auto": "5"}

ACTIONS: tuple[ActionSpec, ...] = (
    ActionSpec("open_file", "&Open file or DICOMDIR…", ("Ctrl+O",), "&File", "open_file_dialog", toolbar=True),
    ActionSpec("open_folder", "Open &folder…", ("Ctrl+Shift+O",), "&File", "open_folder_dialog", toolbar=True),
    ActionSpec("open_pacs", "Open from &PACS…", ("Ctrl+Shift+P",), "&File", "open_pacs_dialog"),
    ActionSpec("send_pacs", "Send results to PAC&S…", (), "&File", "send_results_to_pacs"),
    ActionSpec("open_worklist", "Open &worklist…", ("Ctrl+Shift+W",), "&File", "open_worklist_dialog"),
    ActionSpec("tags", "DICOM &tags…", ("Ctrl+T",), "&File", "show_tags"),
    ActionSpec("quit", "&Quit", ("Ctrl+Q",), "&File", "close"),
    ActionSpec("fit", "&Fit to window", ("F",), "&View", "fit", toolbar=True),
    ActionSpec("actual", "&Actual size (1:1)", ("Z",), "&View", "actual_size", toolbar=True),
    ActionSpec("zoom_in", "Zoom &in", ("+", "="), "&View", "zoom", (1.25,)),
    ActionSpec("zoom_out", "Zoom &out", ("-",), "&View", "zoom", (0.8,)),
    ActionSpec("rotate_cw", "Rotate &right", ("R",), "&View", "rotate", (90,), toolbar=True),
    ActionSpec("rotate_ccw", "Rotate &left", ("Shift+R",), "&View", "rotate", (-90,)),
    ActionSpec("flip_h", "Flip &horizontal", ("H",), "&View", "flip", (True,), toolbar=True),
    ActionSpec("flip_v", "Flip &vertical", ("V",), "&View", "flip", (False,)),
    ActionSpec("invert", "&Invert grey scale", ("I",), "&View", "toggle_invert", checkable=True, toolbar=True),
    ActionSpec("close_beside", "&Close side-by-side view", ("C",), "&View", "hide_beside"),
    *(ActionSpec(f"preset_{name}", f"Window: {title}", (_PRESET_KEYS[name],), "&Window", "apply_preset", (name,))
      for name, title in PRESET_TITLES.items()),
    ActionSpec("measure", "&Measure distance", ("M",), "&Tools", "toggle_measure", checkable=True, toolbar=True),
    ActionSpec("clear_measure", "&Clear measurements", ("Delete", "Esc"), "&Tools", "clear_measurements"),
    ActionSpec("next_image", "&Next image", ("Right", "Down"), "&Go", "step_image", (1,)),
    ActionSpec("prev_image", "&Previous image", ("Left", "Up"), "&Go", "step_image", (-1,)),
    ActionSpec("next_frame", "Next &frame", ("PgDown",), "&Go", "step_frame", (1,)),
    ActionSpec("prev_frame", "Previous f&rame", ("PgUp",), "&Go", "step_frame", (-1,)),
    ActionSpec("help", "&Keyboard shortcuts", ("F1",), "&Help", "show_help"),
)


def build_actions(window) -> dict[str, QtGui.QAction]:
    """Create the QActions on ``window``, put them in its menus and connect their handlers."""
    actions = {}
    for spec in ACTIONS:
        action = QtGui.QAction(spec.text, window)
        action.setShortcuts([QtGui.QKeySequence(s) for s in spec.shortcuts])
        action.setCheckable(spec.checkable)
        handler = getattr(window, spec.handler)
        if spec.checkable:
            action.toggled.connect(handler)
        else:
            action.triggered.connect(lambda _checked=False, h=handler, a=spec.args: h(*a))
        window.menu_named(spec.menu).addAction(action)
        window.addAction(action)  # shortcuts work wherever the focus is
        actions[spec.key] = action
    return actions
