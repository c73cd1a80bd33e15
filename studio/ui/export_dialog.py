"""The gallery's batch-export dialog: which entries, folder, name pattern, format, metadata."""

from __future__ import annotations

from pathlib import Path

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

from studio.app.export import ExportRequest, GalleryExport
from studio.app.gallery import GalleryEntry


class ExportDialog(QDialog):
    def __init__(self, entries: list[GalleryEntry], selected: list[GalleryEntry], exporter: GalleryExport,
                 folder: Path, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Export images")
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
        self.fmt.addItems(["png", "jpg", "webp"])
        form.addRow("Format", self.fmt)
        self.metadata = QCheckBox("write the prompt and recipe into each file")
        self.metadata.setChecked(True)
        form.addRow("Metadata", self.metadata)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.status = QLabel("")
        form.addRow(self.progress)
        form.addRow(self.status)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.export = self.buttons.addButton("Export", QDialogButtonBox.ButtonRole.AcceptRole)
        self.export.clicked.connect(self.start)
        self.buttons.rejected.connect(self._cancel)
        form.addRow(self.buttons)
        exporter.progress_changed.connect(lambda p: self.progress.setValue(int(p * 1000)))
        exporter.finished.connect(self._done)
        exporter.failed.connect(lambda m: (self.status.setText(f"⚠ {m}"), self.export.setEnabled(True)))

    def request(self) -> ExportRequest:
        entries = self.selected_entries if self.only_selected.isChecked() else self.entries
        return ExportRequest(tuple(entries), Path(self.folder.text()), self.pattern.text(), self.fmt.currentText(),
                             self.metadata.isChecked())

    def start(self) -> None:
        self.export.setEnabled(False)
        self.status.setText("exporting…")
        self.exporter.start(self.request())

    def _cancel(self) -> None:
        if self.exporter.running:
            self.exporter.cancel()
        else:
            self.reject()

    def _done(self, summary: str) -> None:
        self.status.setText(summary)
        self.export.setEnabled(True)

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Export to", self.folder.text())
        if folder:
            self.folder.setText(folder)
