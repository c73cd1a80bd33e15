"""Soak the window under a real X server: many generations of mixed modes in one window.

    python bench/soak_window.py                   # 300 runs on a tiny random cascade, under its own Xvfb
    python bench/soak_window.py --runs 60 --model resources/models/default

The window runs in a child process on an Xvfb display (Qt's xcb platform, as a user's desktop), so a
crash — even an abort inside Qt — is counted, not fatal to the bench. The child drives the widgets
themselves: the Mode combo box, the Generate and Cancel buttons, the timeline's Fork button. Runs
cycle text → image, strokes → image, inpaint, upscale and forks; every 7th run is cancelled after its
second step. A 5 ms QTimer records the worst event-loop gap; RSS is read after runs 50 and N.
Needs: xvfb (apt-get install xvfb) and Qt's xcb libraries (see README).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CYCLE = ("text", "strokes", "inpaint", "upscale", "fork")


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def tiny_cascade(folder: Path) -> Path:
    """A 16 px base, 16 → 32 SR stage and classifier with random (non-zero) weights."""
    import torch

    from studio.models.config import ModelCard
    from studio.models.files import build_module, save_model
    from studio.models.presets import tiny_base_config, tiny_classifier_config, tiny_sr_config

    folder.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    for name, config in (("base", tiny_base_config()), ("sr", tiny_sr_config()),
                         ("classifier", tiny_classifier_config())):
        module = build_module(config)
        with torch.no_grad():
            for p in module.parameters():
                if not p.any():
                    p.normal_(0, 0.02)
        save_model(folder / f"{name}.safetensors", module, config, ModelCard(name=f"soak {name}"))
    (folder / "cascade.json").write_text(json.dumps({"name": "soak", "base": "base.safetensors",
                                                     "sr": "sr.safetensors", "classifier": "classifier.safetensors"}))
    return folder


def child(runs: int, model: str | None) -> int:
    from PySide6.QtCore import QEventLoop, QPointF, QSettings, QTimer
    from PySide6.QtWidgets import QApplication

    from studio.app.generation import Mode
    from studio.app.session import Session
    from studio.ui.main_window import build_window
    from studio.ui.tools import Tool

    app = QApplication(sys.argv)  # kept alive for the whole soak
    work = Path(tempfile.mkdtemp(prefix="soak-"))
    model = model or str(tiny_cascade(work / "models"))
    settings = QSettings(str(work / "settings.ini"), QSettings.Format.IniFormat)
    settings.setValue("model/path", model)
    window = build_window(lambda doc: Session(doc, folder=work / "data", settings=settings))
    window.show()
    g, session, panel = window.session.generation, window.session, window.panel
    while session.opening:  # the last model is read in the background; Generate waits for it
        app.processEvents(QEventLoop.ProcessEventsFlag.WaitForMoreEvents, 100)
    g.steps, g.sr_steps = 12, 6

    gaps, last = [0.0], [time.perf_counter()]

    def tick() -> None:
        now = time.perf_counter()
        gaps[0] = max(gaps[0], now - last[0])
        last[0] = now

    timer = QTimer()
    timer.setInterval(5)
    timer.timeout.connect(tick)

    # paint something to refine and a mask to fill
    for tool, start, end in ((Tool.BRUSH, QPointF(30, 30), QPointF(200, 160)),
                             (Tool.MASK, QPointF(60, 60), QPointF(120, 120))):
        window.tools.select(tool)
        window.tools.press(start)
        window.tools.move(end)
        window.tools.release()
    window.tools.select(Tool.BRUSH)

    def wait_for_end() -> str:
        loop, outcome = QEventLoop(), []
        hooks = [(session.runner.finished, "finished"), (session.runner.cancelled, "cancelled"),
                 (session.runner.failed, "failed")]
        slots = [(sig, (lambda *_, w=word: (outcome.append(w), loop.quit()))) for sig, word in hooks]
        for sig, slot in slots:
            sig.connect(slot)
        QTimer.singleShot(120_000, loop.quit)
        loop.exec()
        for sig, slot in slots:
            sig.disconnect(slot)
        return outcome[0] if outcome else "timeout"

    def cancel_after_two(event) -> None:
        if event.frame.step == 1:
            panel.cancel.click()

    counts: dict[str, int] = {}
    rss: dict[int, float] = {}
    started = time.perf_counter()
    timer.start()
    for n in range(1, runs + 1):
        kind = CYCLE[(n - 1) % len(CYCLE)]
        cancel = n % 7 == 0
        if cancel:
            session.runner.step.connect(cancel_after_two)
        if kind == "fork" and session.last_result is not None and session.timeline.length > 2:
            session.timeline.index = session.timeline.length // 2
            window.live.fork.click()
        else:
            mode = {"text": Mode.TEXT, "strokes": Mode.STROKES, "inpaint": Mode.INPAINT,
                    "upscale": Mode.UPSCALE, "fork": Mode.TEXT}[kind]
            panel.mode.setCurrentIndex(list(Mode).index(mode))
            panel.generate.click()
        outcome = wait_for_end()
        if cancel:
            session.runner.step.disconnect(cancel_after_two)
            session.drop_partial()
        counts[f"{kind}:{outcome}"] = counts.get(f"{kind}:{outcome}", 0) + 1
        if outcome in ("failed", "timeout"):
            print(f"run {n} ({kind}) {outcome}", file=sys.stderr)
        if len(session.gallery.entries) > 40:  # a user clears the gallery now and then
            for entry in list(session.gallery.entries[:-10]):
                session.gallery.remove(entry)
        if n in (50, runs):
            rss[n] = rss_mb()
        if n % 25 == 0:
            print(f"run {n}/{runs}: worst gap {gaps[0] * 1000:.1f} ms, RSS {rss_mb():.0f} MB", file=sys.stderr,
                  flush=True)
    timer.stop()
    session.runner.shutdown()
    report = {"runs": runs, "seconds": round(time.perf_counter() - started, 1), "outcomes": counts,
              "worst_gap_ms": round(gaps[0] * 1000, 1), "rss_mb": {str(k): round(v, 1) for k, v in rss.items()}}
    print("SOAK " + json.dumps(report), flush=True)
    shutil.rmtree(work, ignore_errors=True)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--model", default=None, help="a model or cascade (default: a tiny random cascade)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args.runs, args.model)
    if shutil.which("Xvfb") is None:
        print("soak: Xvfb is missing (apt-get install xvfb)", file=sys.stderr)
        return 2
    display = f":{90 + os.getpid() % 9}"
    xvfb = subprocess.Popen(["Xvfb", display, "-screen", "0", "1600x1000x24", "-nolisten", "tcp"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1.0)
    try:
        env = os.environ | {"DISPLAY": display, "QT_QPA_PLATFORM": "xcb"}
        cmd = [sys.executable, __file__, "--child", "--runs", str(args.runs)] + (
            ["--model", args.model] if args.model else [])
        proc = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, text=True)
    finally:
        xvfb.terminate()
    line = next((x for x in proc.stdout.splitlines() if x.startswith("SOAK ")), None)
    crashed = proc.returncode != 0 or line is None
    print(f"crashes: {int(crashed)} (child exit status {proc.returncode})")
    if line:
        report = json.loads(line[5:])
        rss = report["rss_mb"]
        first, final = rss.get("50"), rss.get(str(args.runs))
        growth = (final - first) / first * 100 if first and final else float("nan")
        print(f"runs: {report['runs']} in {report['seconds']} s; outcomes: {report['outcomes']}")
        print(f"worst event-loop gap: {report['worst_gap_ms']} ms")
        print(f"RSS after run 50: {first} MB, after run {args.runs}: {final} MB, growth {growth:+.1f} %")
    return 1 if crashed else 0


if __name__ == "__main__":
    sys.exit(main())
