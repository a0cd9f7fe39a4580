"""File → Open from PACS: pick a server, search, retrieve a study (progress, cancel), open it;
and send the current analysis (a DICOM SR) back to the chosen server.

Every network call runs on the window's TaskRunner; this dialog only fills widgets from results.
Server entries come from the PACS configuration file (docs/PACS.md); an ad-hoc DICOMweb URL can be
typed, with a password that is used for this session only and never stored.
"""
from __future__ import annotations

import logging
from pathlib import Path

from PySide6 import QtCore, QtWidgets

import engine

log = logging.getLogger(__name__)

COLUMNS = ("Date", "Modality", "Patient ID", "Patient name", "Accession", "Description", "Images")
AD_HOC = "Other DICOMweb server…"
MODALITIES = ("", "CR", "DX")


class PacsDialog(QtWidgets.QDialog):
    """Search and retrieve studies; emits :attr:`study_retrieved` with the study's local folder.

    Parameters
    ----------
    runner
        The window's :class:`desktop.workers.TaskRunner`.
    settings
        QSettings for the last server and URL (no secrets are stored).
    servers
        ``name -> engine.PacsServer`` (default: read from the configuration file).
    cache_dir
        Where studies are retrieved to (default: the engine's PACS cache folder).
    """

    study_retrieved = QtCore.Signal(object)
    results_sent = QtCore.Signal(list)

    def __init__(self, runner, settings: QtCore.QSettings, parent=None, servers: dict | None = None,
                 cache_dir: Path | None = None):
        super().__init__(parent)
        self.setWindowTitle("Open from PACS")
        self.resize(980, 560)
        self.runner, self.settings, self.cache_dir = runner, settings, cache_dir
        self.matches: list = []
        self.pending_results = None  # (image path, prediction, pack) to send
        self._task = None
        self.servers = servers if servers is not None else self._read_servers()

        self.server_box = QtWidgets.QComboBox()
        self.server_box.addItems([*self.servers, AD_HOC])
        self.url_edit = QtWidgets.QLineEdit(settings.value("pacs/url", "", type=str),
                                            placeholderText="https://host/dicom-web")
        self.user_edit = QtWidgets.QLineEdit(settings.value("pacs/user", "", type=str), placeholderText="user")
        self.password_edit = QtWidgets.QLineEdit(placeholderText="password (not saved)")
        self.password_edit.setEchoMode(QtWidgets.QLineEdit.Password)
        server_row = QtWidgets.QHBoxLayout()
        for label, widget in (("Server", self.server_box), ("URL", self.url_edit), ("User", self.user_edit),
                              ("Password", self.password_edit)):
            server_row.addWidget(QtWidgets.QLabel(label))
            server_row.addWidget(widget, 2 if widget is self.url_edit else 1)
        self.server_box.currentTextChanged.connect(self._server_changed)
        last = settings.value("pacs/server", "", type=str)
        if last in self.servers or last == AD_HOC:
            self.server_box.setCurrentText(last)
        self._server_changed(self.server_box.currentText())

        self.fields = {name: QtWidgets.QLineEdit(placeholderText=hint) for name, hint in (
            ("patient_name", "name (wildcards * ?)"), ("patient_id", "patient ID"), ("date_from", "YYYYMMDD"),
            ("date_to", "YYYYMMDD"), ("accession", "accession"))}
        self.modality_box = QtWidgets.QComboBox()
        self.modality_box.addItems(["any", *MODALITIES[1:]])
        self.search_button = QtWidgets.QPushButton("Search", default=True)
        self.search_button.clicked.connect(self.search)
        form = QtWidgets.QGridLayout()
        for index, (label, widget) in enumerate((("Patient name", self.fields["patient_name"]),
                                                 ("Patient ID", self.fields["patient_id"]),
                                                 ("Accession", self.fields["accession"]),
                                                 ("Study date from", self.fields["date_from"]),
                                                 ("to", self.fields["date_to"]), ("Modality", self.modality_box))):
            form.addWidget(QtWidgets.QLabel(label), index // 3, (index % 3) * 2)
            form.addWidget(widget, index // 3, (index % 3) * 2 + 1)
        form.addWidget(self.search_button, 0, 6, 2, 1)

        self.table = QtWidgets.QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setSelectionBehavior(QtWidgets.QAbstractItemView.SelectRows)
        self.table.setSelectionMode(QtWidgets.QAbstractItemView.SingleSelection)
        self.table.setEditTriggers(QtWidgets.QAbstractItemView.NoEditTriggers)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.verticalHeader().hide()
        self.table.doubleClicked.connect(lambda _index: self.retrieve())

        self.status = QtWidgets.QLabel(wordWrap=True)
        self.progress = QtWidgets.QProgressBar()
        self.progress.hide()
        self.retrieve_button = QtWidgets.QPushButton("Retrieve and open")
        self.retrieve_button.clicked.connect(self.retrieve)
        self.cancel_button = QtWidgets.QPushButton("Cancel retrieve", enabled=False)
        self.cancel_button.clicked.connect(self.cancel)
        self.send_button = QtWidgets.QPushButton("Send current results", enabled=False)
        self.send_button.setToolTip("Send the AI findings of the image on screen as a DICOM SR")
        self.send_button.clicked.connect(self.send_pending)
        close = QtWidgets.QPushButton("Close")
        close.clicked.connect(self.close)
        buttons = QtWidgets.QHBoxLayout()
        for widget in (self.progress, self.retrieve_button, self.cancel_button, self.send_button, close):
            buttons.addWidget(widget)

        layout = QtWidgets.QVBoxLayout(self)
        layout.addLayout(server_row)
        layout.addLayout(form)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.status)
        layout.addLayout(buttons)

    # ------------------------------------------------------------------ server
    def _read_servers(self) -> dict:
        try:
            return engine.load_servers()
        except engine.PacsError as error:
            QtCore.QTimer.singleShot(0, lambda: self._say(f"PACS configuration not read: {error}", error=True))
            return {}

    def _server_changed(self, name: str) -> None:
        ad_hoc = name == AD_HOC
        for widget in (self.url_edit, self.user_edit, self.password_edit):
            widget.setEnabled(ad_hoc)
        if not ad_hoc and name in self.servers:
            self.url_edit.setText(self.servers[name].url or self.servers[name].describe())

    def server(self):
        """The chosen :class:`engine.PacsServer` (secrets from the entry, the form or the environment)."""
        name = self.server_box.currentText()
        if name != AD_HOC:
            return self.servers[name].with_secrets_from_env()
        return engine.PacsServer(name="ad hoc", url=self.url_edit.text().strip() or None,
                                 username=self.user_edit.text().strip() or None,
                                 password=self.password_edit.text() or None).with_secrets_from_env()

    def _remember(self) -> None:
        self.settings.setValue("pacs/server", self.server_box.currentText())
        if self.server_box.currentText() == AD_HOC:
            self.settings.setValue("pacs/url", self.url_edit.text().strip())
            self.settings.setValue("pacs/user", self.user_edit.text().strip())

    # ------------------------------------------------------------------ search
    def query(self):
        """The :class:`engine.StudyQuery` the form describes (raises PacsError for a bad date)."""
        values = {name: edit.text().strip() for name, edit in self.fields.items()}
        modality = self.modality_box.currentText()
        return engine.StudyQuery(modality="" if modality == "any" else modality, **values)

    def search(self) -> None:
        """Search the chosen server on a worker."""
        try:
            server, query = self.server(), self.query()
        except engine.PacsError as error:
            self._say(str(error), error=True)
            return
        if not server.url and not server.aet:
            self._say("Type the server's DICOMweb URL, or choose a saved server", error=True)
            return
        self._remember()
        self._say(f"Searching {server.describe()} …")
        self.search_button.setEnabled(False)
        self.runner.submit(engine.find_studies, server, query, name="pacs find",
                           on_result=self.show_matches, on_error=self._failed)

    def show_matches(self, matches: list) -> None:
        """Fill the table with study matches."""
        self.search_button.setEnabled(True)
        self.matches = list(matches)
        self.table.setRowCount(len(self.matches))
        for row, match in enumerate(self.matches):
            date = match.study_date
            values = (f"{date[:4]}-{date[4:6]}-{date[6:]}" if len(date) == 8 else date, match.modalities,
                      match.patient_id, match.patient_name.replace("^", " "), match.accession, match.description,
                      "" if match.instances is None else str(match.instances))
            for column, value in enumerate(values):
                self.table.setItem(row, column, QtWidgets.QTableWidgetItem(value))
        self.table.resizeColumnsToContents()
        if self.matches:
            self.table.selectRow(0)
        self._say(f"{len(self.matches)} stud{'y' if len(self.matches) == 1 else 'ies'} found")

    # ------------------------------------------------------------------ retrieve
    def retrieve(self) -> None:
        """Retrieve the selected study on a worker; progress below; it opens when complete."""
        rows = self.table.selectionModel().selectedRows()
        if not rows or self._task is not None:
            return
        match = self.matches[rows[0].row()]
        server = self.server()
        self.progress.setRange(0, 0)
        self.progress.show()
        self.retrieve_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self._say(f"Retrieving {match.patient_id} {match.study_date} from {server.describe()} …")
        self._task = self.runner.submit(engine.retrieve_study, server, match.study_uid, self.cache_dir,
                                        name="pacs retrieve", on_progress=self._on_progress,
                                        on_result=self._retrieved, on_error=self._failed)
        self._task_done_check()

    def _task_done_check(self) -> None:
        """Reset the buttons when a cancelled task has stopped (it delivers no result)."""
        if self._task is not None and self._task.finished and self._task.cancelled:
            self._reset(f"Retrieve cancelled; whole instances stay cached and the next retrieve resumes")
        elif self._task is not None:
            QtCore.QTimer.singleShot(100, self._task_done_check)

    def _on_progress(self, progress) -> None:
        if progress.fraction is not None:
            self.progress.setRange(0, 1000)
            self.progress.setValue(int(progress.fraction * 1000))
        self._say(progress.message)

    def cancel(self) -> None:
        """Stop the running retrieve after the instance in flight."""
        if self._task is not None:
            self._task.cancel()
            self._say("Cancelling …")

    def _retrieved(self, folder) -> None:
        self._reset(f"Retrieved into {folder}")
        self.study_retrieved.emit(Path(folder))

    def _reset(self, message: str) -> None:
        self._task = None
        self.progress.hide()
        self.retrieve_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
        self._say(message)

    def _failed(self, error) -> None:
        self.search_button.setEnabled(True)
        if self._task is not None:
            self._reset(str(error))
        self._say(str(error), error=True)

    # ------------------------------------------------------------------ send
    def offer_results(self, image_path, prediction, pack) -> None:
        """Remember the current analysis so that :meth:`send_pending` can send it."""
        self.pending_results = (Path(image_path), prediction, pack)
        self.send_button.setEnabled(True)
        self._say(f"Choose the server, then “Send current results” for {Path(image_path).name}")

    def send_pending(self) -> None:
        """Write and send the SR of the offered analysis on a worker."""
        if self.pending_results is None:
            return
        server = self.server()
        path, prediction, pack = self.pending_results
        self._say(f"Sending the findings of {path.name} to {server.describe()} …")
        self.runner.submit(engine.send_analysis, server, path, prediction, pack, name="pacs send",
                           on_result=self._sent, on_error=self._failed)

    def _sent(self, uids: list) -> None:
        self._say(f"Sent {len(uids)} result object(s)")
        self.results_sent.emit(list(uids))

    def _say(self, text: str, error: bool = False) -> None:
        self.status.setText(text)
        self.status.setProperty("class", "error" if error else "dim")
        self.status.style().polish(self.status)
        if error:
            log.warning("PACS: %s", text)
