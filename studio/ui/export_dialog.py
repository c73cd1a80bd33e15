"""The gallery's batch-export dialog: which entries, folder, name pattern, format, metadata."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QWidget,
)

from studio.app.export import ExportFormat, ExportRequest, GalleryExport
from studio.app.gallery import GalleryEntry


class ExportDialog(QDialog):
    """Opened per export and deleted when closed; it listens to the window's one exporter only while open."""

    FORMATS = tuple(ExportFormat)  # combo index → format, kept here: Qt would hand item data back as str

    def __init__(self, entries: list[GalleryEntry], selected: list[GalleryEntry], exporter: GalleryExport,
                 folder: Path, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Export images")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.entries, self.selected_entries, self.exporter = entries, selected, exporter
        form = QFormLayout(self)
        self.only_selected = QRadioButton(f"selected ({len(selected)})")
        self.all = QRadioButton(f"all ({len(entries)})")
        (self.only_selected if selected else self.all).setChecked(True)
        self.only_selected.setEnabled(bool(selected))
        which = QHBoxLayout()
        which.addWidget(self.only_selected)
        which.addWidget(self.all)
        form.addRow("Images", which)
        self.folder = QLineEdit(str(folder))
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        row = QHBoxLayout()
        row.addWidget(self.folder, 1)
        row.addWidget(browse)
        form.addRow("Folder", row)
        self.pattern = QLineEdit("{date}-{seed}-{prompt}")
        self.pattern.setToolTip("fields: {date} {seed} {prompt} {index} {steps} {sampler}")
        form.addRow("File names", self.pattern)
        self.fmt = QComboBox()
        self.fmt.addItems([f.label for f in self.FORMATS])
        form.addRow("Format", self.fmt)
        self.metadata = QCheckBox("write the prompt and recipe into each file")
        self.metadata.setChecked(True)
        form.addRow("Metadata", self.metadata)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.hide()  # an empty bar before anything runs reads as a broken field
        self.status = QLabel("")
        form.addRow(self.progress)
        form.addRow(self.status)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.export = self.buttons.addButton("Export", QDialogButtonBox.ButtonRole.AcceptRole)
        self.export.clicked.connect(self.start)
        self.buttons.rejected.connect(self._cancel)
        form.addRow(self.buttons)
        self._connections = ((exporter.progress_changed, self._progress), (exporter.finished, self._done),
                             (exporter.failed, self._failed))
        for signal, slot in self._connections:
            signal.connect(slot)

    def done(self, result: int) -> None:
        """Closing (by any button or the title bar) lets go of the exporter, which outlives the dialog."""
        for signal, slot in self._connections:
            signal.disconnect(slot)
        self._connections = ()
        super().done(result)

    def request(self) -> ExportRequest:
        entries = self.selected_entries if self.only_selected.isChecked() else self.entries
        return ExportRequest(tuple(entries), Path(self.folder.text()), self.pattern.text(),
                             self.FORMATS[self.fmt.currentIndex()], self.metadata.isChecked())

    def start(self) -> None:
        self.export.setEnabled(False)
        self.progress.show()
        self.status.setText("exporting…")
        self.exporter.start(self.request())

    def _progress(self, fraction: float) -> None:
        self.progress.setValue(int(fraction * 1000))

    def _failed(self, message: str) -> None:
        self.status.setText(f"⚠ {message}")
        self.export.setEnabled(True)

    def _cancel(self) -> None:
        if self.exporter.running:
            self.exporter.cancel()
        else:
            self.reject()

    def _done(self, summary: str) -> None:
        self.status.setText(summary)
        self.export.setEnabled(True)
        self.buttons.button(QDialogButtonBox.StandardButton.Cancel).setText("Close")

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Export to", self.folder.text())
        if folder:
            self.folder.setText(folder)
