"""The window with a tiny Stable Diffusion file: live steps show the quick latent preview, and the step the
timeline rests on is replaced by the worker's exact decode (issue 18, point 4)."""

import numpy as np
import pytest
from PySide6.QtGui import QImage, QPixmap

from studio.ui.live_view import _pixmap
from tests.models.sd.tiny import tiny_sd1, write_sd1

TIMEOUT = 120_000


@pytest.fixture(scope="module")
def sd_file(tmp_path_factory):
    return write_sd1(tmp_path_factory.mktemp("sd") / "tiny-sd.safetensors", tiny_sd1(1))


def _pixels(pixmap: QPixmap) -> np.ndarray:
    image = pixmap.toImage().convertToFormat(QImage.Format.Format_RGB888)
    return np.frombuffer(image.constBits(), np.uint8).reshape(image.height(), image.bytesPerLine()).copy()


def _shown(label) -> np.ndarray:
    return _pixels(label.pixmap())


def test_scrubbing_a_latent_run_shows_each_rested_step_decoded_exactly(make_window, qtbot, sd_file):
    window = make_window(model=sd_file)
    session, live = window.session, window.live
    g = session.generation
    g.prompt, g.steps, g.seed, g.seed_locked = "a red apple", 3, 5, True
    labels = []
    session.runner.step.connect(lambda _: labels.append(live.step_label.text()))
    with qtbot.waitSignal(session.runner.finished, timeout=TIMEOUT):
        session.generate()
    assert live.step_previews == 3 and all(text.endswith("quick latent preview") for text in labels)
    timeline = session.timeline
    qtbot.waitUntil(lambda: 2 in timeline.exact, timeout=TIMEOUT)  # the run ended on its last step
    assert live.step_label.text() == f"base step 3 of 3 · t = {timeline.current().t} · exact decode"

    quick = timeline.frames[0]
    live.slider.setValue(0)  # scrub to the first step
    assert live.step_label.text().endswith("quick latent preview")
    assert np.array_equal(_shown(live.x0_view), _shown_of(quick.x0_preview))
    qtbot.waitUntil(lambda: 0 in timeline.exact, timeout=TIMEOUT)
    exact = timeline.frames[0]
    assert not np.array_equal(exact.x0_preview, quick.x0_preview)
    assert np.array_equal(_shown(live.x0_view), _shown_of(exact.x0_preview))
    assert np.array_equal(_shown(live.xt_view), _shown_of(exact.x_t_preview))
    assert live.step_label.text().endswith("exact decode") and timeline.exact == {0, 2}


def _shown_of(batch: np.ndarray) -> np.ndarray:
    return _pixels(_pixmap(batch))
