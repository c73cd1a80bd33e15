"""The respacing line edits beside Steps and SR steps: bound both ways, red with the reason while the string
cannot respace the model's chain, and a respaced run's progress, timeline and schedule plot follow it."""

from PySide6.QtCore import Qt


def test_the_respacing_edits_show_what_is_wrong_and_disable_the_step_count_they_replace(make_window, qtbot):
    window = make_window()
    panel, g = window.panel, window.session.generation
    assert panel.respacing.isEnabled() and panel.sr_respacing.isEnabled() and panel.steps_slider.isEnabled()
    panel.respacing.setFocus()
    qtbot.keyClicks(panel.respacing, "fast2")
    assert g.respacing == "fast2"
    assert "#d33" in panel.respacing.styleSheet() and panel.respacing.toolTip().startswith("⚠ respacing 'fast2'")
    assert not panel.steps_slider.isEnabled()
    for _ in "fast2":
        qtbot.keyClick(panel.respacing, Qt.Key.Key_Backspace)
    qtbot.keyClicks(panel.respacing, "10,5")
    assert g.respacing == "10,5" and panel.respacing.styleSheet() == "" and not panel.steps_slider.isEnabled()
    qtbot.keyClicks(panel.respacing, "000")  # 10,5000: more steps than the second half of T holds
    assert "#d33" in panel.respacing.styleSheet() and "cannot take 5000 steps" in panel.respacing.toolTip()
    panel.respacing.clear()
    assert g.respacing == "" and panel.respacing.styleSheet() == "" and panel.steps_slider.isEnabled()
    g.sr_respacing = "ddim4"  # from a recipe or a model's authors: the edit shows it
    assert panel.sr_respacing.text() == "ddim4" and not panel.sr_steps_slider.isEnabled()


def test_a_respaced_run_s_progress_timeline_and_plot_follow_the_strings(make_window, qtbot):
    window = make_window()
    session, g = window.session, window.session.generation
    g.prompt, g.steps, g.sr_steps, g.respacing, g.sr_respacing = "red apple", 30, 20, "3", "2"
    qtbot.waitUntil(lambda: not session.background.busy, timeout=10_000)
    assert len(session.schedule.curve.chain) == 3
    statuses = []
    session.runner.status_changed.connect(statuses.append)
    with qtbot.waitSignal(session.runner.finished, timeout=60_000) as blocker:
        session.generate()
    assert len(blocker.args[0].frames) == session.timeline.length == window.live.step_previews == 5
    assert statuses[1].startswith("base step 1/3 ") and any(s.startswith("sr step 2/2 ") for s in statuses)
    assert window.panel.progress.value() == 1000
    assert blocker.args[0].recipe.settings.sr_respacing == "2"
