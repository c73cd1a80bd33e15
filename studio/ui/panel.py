"""The settings panel: model, mode, prompts, sliders, sampler, seed, batch, run controls."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QSlider,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from studio.app.generation import Mode
from studio.app.session import Control, Session
from studio.core.enums import Spacing
from studio.core.settings import LIMITS
from studio.ui.bindings import Binding, bind_check, bind_enum, bind_slider, bind_spin, bind_text, bind_to


class ElidedLabel(QLabel):
    """One line that ends in "…" when the panel is too narrow, instead of breaking mid-word ("(16→32" / "px)")."""

    def __init__(self, text: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.full_text = ""
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)  # the layout sets the width
        self.set_full_text(text)

    def set_full_text(self, text: str) -> None:
        self.full_text = text
        self._elide()

    def resizeEvent(self, event) -> None:  # noqa: N802
        super().resizeEvent(event)
        self._elide()

    def _elide(self) -> None:
        self.setText(self.fontMetrics().elidedText(self.full_text, Qt.TextElideMode.ElideRight, max(self.width(), 1)))


def _slider(low: int, high: int) -> QSlider:
    slider = QSlider(Qt.Orientation.Horizontal)
    slider.setRange(low, high)
    return slider


class Panel(QWidget):
    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.bindings: list[Binding] = []  # to the session's view models, which may outlive this panel
        self.rows: dict[Control, tuple[QWidget, ...]] = {}
        layout = QVBoxLayout(self)
        for box in (self._model_box(), self._prompt_box(), self._sampling_box(), self._cascade_box(),
                    self._run_box()):
            layout.addWidget(box)
        layout.addStretch(1)
        g = session.generation
        for signal in (g.mode_changed, g.sampler_changed, g.cascade_changed, session.model_changed,
                       session.runner.running_changed, session.opening_changed, g.respacing_changed,
                       g.sr_respacing_changed, g.sr_sampler_changed):
            signal.connect(self.refresh)
        session.model_changed.connect(self._show_classes)
        for signal in (session.model_changed, session.opening_changed):
            signal.connect(lambda _: self._show_model())
        self._show_model()
        self.refresh()

    def _prompt_box(self) -> QGroupBox:
        g = self.session.generation
        prompt_box = QGroupBox("Prompt")
        form = QFormLayout(prompt_box)
        self.mode = QComboBox()
        self.bindings.append(bind_enum(self.mode, g, "mode", list(Mode)))
        form.addRow("Mode", self.mode)
        self.prompt = QPlainTextEdit()
        self.prompt.setPlaceholderText("what to paint, e.g. “red apple”")
        self.prompt.setFixedHeight(54)
        self.bindings.append(bind_text(self.prompt, g, "prompt"))
        form.addRow("Prompt", self.prompt)
        self.negative = QLineEdit()
        self.negative.setPlaceholderText("what to avoid")
        self.bindings.append(bind_text(self.negative, g, "negative_prompt"))
        form.addRow("Negative", self.negative)
        return prompt_box

    def _sampling_box(self) -> QGroupBox:
        g = self.session.generation
        sampling = QGroupBox("Sampling")
        form = QFormLayout(sampling)
        self.respacing = self._respacing_edit("respacing", "the base")
        self._add_slider(form, Control.STEPS, "Steps", 1, "{:d}", extra=self.respacing)
        self._add_slider(form, Control.GUIDANCE, "Guidance", 0.1, "{:.1f}", prop="guidance_scale")
        self._add_slider(form, Control.STRENGTH, "Strength", 0.01, "{:.2f}")
        self._add_slider(form, Control.ILVR_FACTOR, "ILVR factor", 1, "{:d}")
        self.sampler = QComboBox()
        self.bindings.append(bind_enum(self.sampler, g, "sampler", list(self.session.sampler_kinds())))
        for n, kind in enumerate(self.session.sampler_kinds()):
            self.sampler.setItemData(n, self.session.sampler_label(kind), Qt.ItemDataRole.ToolTipRole)
        form.addRow("Sampler", self.sampler)
        self._add_slider(form, Control.ETA, "DDIM η", 0.01, "{:.2f}")
        self._add_slider(form, Control.CHURN, "Churn", 0.5, "{:.1f}")
        self._add_slider(form, Control.SNR, "Corrector SNR", 0.01, "{:.2f}")
        self.spacing = QComboBox()
        self.bindings.append(bind_enum(self.spacing, g, "spacing", list(Spacing)))
        form.addRow("Spacing", self.spacing)
        self._add_slider(form, Control.CLASS_GUIDANCE, "Class guidance", 0.1, "{:.1f}")
        self.class_picker = QComboBox()
        self.class_picker.currentIndexChanged.connect(lambda i: setattr(g, "class_label", max(i, 0)))
        g.class_label_changed.connect(lambda i: self.class_picker.setCurrentIndex(i))
        form.addRow("Class", self.class_picker)
        self.rows[Control.CLASS_GUIDANCE] += (self.class_picker,)
        return sampling

    def _cascade_box(self) -> QGroupBox:
        g = self.session.generation
        cascade = QGroupBox("Seed, batch and cascade")
        form = QFormLayout(cascade)
        seed_row = QHBoxLayout()
        self.seed = QSpinBox()
        self.seed.setRange(int(LIMITS["seed"].low), int(LIMITS["seed"].high))
        self.bindings.append(bind_spin(self.seed, g, "seed"))
        self.seed_lock = QCheckBox("lock")
        self.bindings.append(bind_check(self.seed_lock, g, "seed_locked"))
        self.dice = QPushButton("🎲 new")
        self.dice.setToolTip("a new random seed (unless locked)")
        self.dice.clicked.connect(g.roll_seed)
        for w in (self.seed, self.seed_lock, self.dice):
            seed_row.addWidget(w)
        form.addRow("Seed", seed_row)
        self.batch = QSpinBox()
        self.batch.setRange(int(LIMITS["batch_size"].low), int(LIMITS["batch_size"].high))
        self.bindings.append(bind_spin(self.batch, g, "batch_size"))
        form.addRow("Batch", self.batch)
        self.cascade = QCheckBox("run the super-resolution stage")
        self.bindings.append(bind_check(self.cascade, g, "cascade"))
        form.addRow("Cascade", self.cascade)
        self.rows[Control.CASCADE] = (self.cascade,)
        self.sr_respacing = self._respacing_edit("sr_respacing", "the super-resolution")
        self._add_slider(form, Control.SR_STEPS, "SR steps", 1, "{:d}", extra=self.sr_respacing)
        self.sr_sampler = QComboBox()
        kinds = list(self.session.sampler_kinds())
        self.bindings.append(bind_enum(self.sr_sampler, g, "sr_sampler", ["", *kinds],
                                       ["as Sampler", *(k.value for k in kinds)]))
        self.sr_sampler.setToolTip("the super-resolution stage's own sampler (GLIDE's upsampler: DDIM)")
        form.addRow("SR sampler", self.sr_sampler)
        self.rows[Control.SR_SAMPLER] = (self.sr_sampler,)
        self._add_slider(form, Control.SR_GUIDANCE, "SR guidance", 0.1, "{:.1f}", prop="sr_guidance_scale")
        self._add_slider(form, Control.NOISE_AUGMENTATION, "Noise aug.", 0.01, "{:.2f}")
        return cascade

    def _model_box(self) -> QGroupBox:
        box = QGroupBox("Model")
        column = QVBoxLayout(box)
        self.model_name = ElidedLabel("no model")
        self.open_model = QPushButton("Open model file…")
        self.card = QPushButton("Model card…")
        self.card.setToolTip("what `studio info` says about this model")
        row = QHBoxLayout()
        row.addWidget(self.open_model)
        row.addWidget(self.card)
        column.addWidget(self.model_name)
        column.addLayout(row)
        return box

    def _run_box(self) -> QWidget:
        box = QWidget()
        column = QVBoxLayout(box)
        buttons = QHBoxLayout()
        self.generate = QPushButton("Generate  (Ctrl+Enter)")
        self.generate.setDefault(True)
        self.cancel = QPushButton("Cancel  (Esc)")
        buttons.addWidget(self.generate, 2)
        buttons.addWidget(self.cancel, 1)
        column.addLayout(buttons)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setTextVisible(False)
        self.status = QLabel("")
        column.addWidget(self.progress)
        column.addWidget(self.status)
        runner = self.session.runner
        runner.progress_changed.connect(lambda p: self.progress.setValue(int(p * 1000)))
        runner.status_changed.connect(self.status.setText)
        self.generate.clicked.connect(lambda: self.session.generate())
        self.cancel.clicked.connect(self.session.cancel)
        return box

    def _add_slider(self, form: QFormLayout, key: Control, label: str, scale: float, fmt: str,
                    prop: str | None = None, extra: QWidget | None = None) -> None:
        """A slider over the setting's whole allowed range (core.settings.LIMITS), in steps of `scale`, and
        `extra` beside it (enabled on its own)."""
        limit = LIMITS[prop or key.value]
        slider, value = _slider(round(limit.low / scale), round(limit.high / scale)), QLabel()
        value.setMinimumWidth(36)
        row = QHBoxLayout()
        row.addWidget(slider, 1)
        row.addWidget(value)
        if extra is not None:
            row.addWidget(extra)
        self.bindings.append(bind_slider(slider, value, self.session.generation, prop or key.value, scale, fmt))
        form.addRow(label, row)
        setattr(self, f"{key.value}_slider", slider)
        self.rows[key] = (slider, value)

    def _respacing_edit(self, prop: str, chain: str) -> QLineEdit:
        """The chain as a respacing string, beside its step count; red with the reason while it cannot be used."""
        edit = QLineEdit()
        edit.setPlaceholderText("= steps")
        edit.setMaximumWidth(84)
        hint = (f"{chain} chain as a respacing string: 250 (steps), 10,10,10 (per section), ddim25, fast27; "
                "empty: the step count")
        edit.setToolTip(hint)
        self.bindings.append(bind_text(edit, self.session.generation, prop))

        def show(problem: str) -> None:
            edit.setStyleSheet("QLineEdit { border: 1px solid #d33; }" if problem else "")
            edit.setToolTip(f"⚠ {problem}" if problem else hint)

        self.bindings.append(bind_to(self.session, f"{prop}_problem", show))
        return edit

    def _show_model(self) -> None:
        """The model in use, or the one being read ("opening …": Generate waits for it)."""
        s = self.session
        if s.opening:
            self.model_name.set_full_text(f"opening {Path(s.opening).name}…")
            self.model_name.setToolTip(s.opening)
        elif s.model is not None:
            m = s.model
            self.model_name.set_full_text(f"{m.name}  ({m.resolution}→{m.output_resolution} px)")
            self.model_name.setToolTip(m.path)
        else:
            self.model_name.set_full_text("no model")
            self.model_name.setToolTip("")

    def _show_classes(self, summary) -> None:
        self.class_picker.clear()
        self.class_picker.addItems(list(summary.class_names) if summary is not None else [])

    def refresh(self, *_: object) -> None:
        """Enable exactly the controls that apply to the current mode and model."""
        s = self.session
        for key, widgets in self.rows.items():
            enabled = s.applies(key)
            for w in widgets:
                w.setEnabled(enabled)
        self.generate.setEnabled(s.applies(Control.GENERATE))
        self.cancel.setEnabled(s.runner.running)
        self.card.setEnabled(s.model is not None)
