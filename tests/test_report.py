"""The Snakemake report (issue 7), opened in headless Chromium: it renders its sections, every
result has its caption, the tables are readable in the page and the confusion matrix shows.

Also makes the README screenshot:
    .venv/bin/python tests/test_report.py <report.html> docs/report.png
"""

from __future__ import annotations

import csv
import html
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from conftest import REPO, TINY_PRESET, copy_of_run, run_snakemake  # noqa: E402

TINY = TINY_PRESET  # conftest: the preset the shared tiny demo run uses
CAPTIONS = REPO / "workflow" / "report"
CATEGORIES = ["2. Metrics", "3. Training", "4. Data"]
RESULTS = {  # report entry -> a phrase of its caption
    "results/metrics/confusion_matrix.png": "rows are the true genres, columns the predicted ones",
    "results/metrics/per_class.tsv": "Scores per genre on the headline split",
    "results/metrics/metrics.json": "All scores as JSON",
    "results/model/training_curves.png": "Loss and accuracy per epoch",
    "results/split/summary.tsv": "Dataset summary: usable tracks per genre in each split",
    "results/qc/rejected.tsv": "Quality control: audio files that were not used",
    "results/qc/duplicates.tsv": "exact duplicates",
}
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--hide-scrollbars",
    "--virtual-time-budget=20000",
]

# Runs in the report page: waits for the app, then walks through the views a person would click.
WAIT_FOR = "function waitFor(ready, then) { if (ready()) { then(); } else { setTimeout(function () { waitFor(ready, then); }, 50); } }"
PROBE_JS = (
    WAIT_FOR
    + """
waitFor(function () { return typeof app !== "undefined" && app.state; }, function () {
  const paths = Object.values(categories).flatMap(function (c) { return Object.values(c).flat(); });
  const seen = {};
  function show(i) {
    if (i === paths.length) {
      const image = "results/metrics/confusion_matrix.png";
      app.setView({ content: "img", contentPath: results[image].data_uri, resultPath: image });
      waitFor(function () { return document.querySelector("#app img[src^='data:image/png']"); }, function () {
        seen["@content"] = document.querySelector("#app img[src^='data:image/png']").outerHTML.slice(0, 200);
        const pre = document.createElement("pre");
        pre.id = "genreflow-probe";
        pre.textContent = JSON.stringify(seen);
        document.body.appendChild(pre);
      });
      return;
    }
    app.showResultInfo(paths[i]);
    waitFor(function () { return app.state.resultPath === paths[i] && document.querySelector("#app").innerHTML.includes(paths[i]); }, function () {
      seen[paths[i]] = document.querySelector("#app").innerHTML;
      show(i + 1);
    });
  }
  show(0);
});
"""
)
SCREENSHOT_JS = (
    WAIT_FOR
    + """
const image = "results/metrics/confusion_matrix.png";
waitFor(function () { return typeof app !== "undefined" && app.state; }, function () {
  app.showCategory("2. Metrics");
  waitFor(function () { return app.state.category === "2. Metrics"; }, function () {
    app.setView({ content: "img", contentPath: results[image].data_uri, resultPath: image });
    waitFor(function () { return app.state.content === "img"; }, function () {
      app.showResultInfo("results/metrics/per_class.tsv");
    });
  });
});
"""
)


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        message = (
            "headless Chromium is needed for the report test (Debian: apt-get install chromium)"
        )
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return found


def with_script(report: Path, script: str, out: Path) -> Path:
    """A copy of the report with ``script`` run on load (the report itself has no deep links)."""
    page = report.read_text(encoding="utf-8")
    end = page.rfind("</body>")
    # no CSS transitions: a screenshot must not catch the side bar half-way through resizing
    extra = f"<style>* {{ transition: none !important; }}</style><script>{script}</script>"
    out.write_text(page[:end] + extra + page[end:], encoding="utf-8")
    return out


def run_chromium(page: Path, profile: Path, *args: str) -> subprocess.CompletedProcess:
    cmd = [
        chromium(),
        *CHROMIUM_FLAGS,
        f"--user-data-dir={profile}",
        *args,
        page.resolve().as_uri(),
    ]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


def dump_dom(page: Path, profile: Path) -> str:
    proc = run_chromium(page, profile, "--dump-dom")
    assert proc.returncode == 0 and "<body" in proc.stdout, proc.stderr[-3000:]
    return proc.stdout


def visible_text(markup: str) -> str:
    markup = re.sub(r"<(script|style)\b.*?</\1>", " ", markup, flags=re.S)
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", markup)))


def screenshot(report: Path, png: Path, workdir: Path) -> None:
    """The metrics view: per-genre table in the side bar, confusion matrix in the main pane."""
    from PIL import Image

    page = with_script(report, SCREENSHOT_JS, workdir / "screenshot.html")
    # headless Chromium's viewport is shorter than its window: take a tall shot, keep the top
    raw = workdir / "screenshot-raw.png"
    proc = run_chromium(
        page, workdir / "profile-shot", "--window-size=1280,943", f"--screenshot={raw}"
    )
    assert proc.returncode == 0 and raw.exists(), proc.stderr[-3000:]
    Image.open(raw).crop((0, 0, 1280, 800)).save(png, optimize=True)


@pytest.fixture(scope="module")
def report(tiny_demo_run, tmp_path_factory) -> Path:
    workdir = copy_of_run(
        tiny_demo_run, tmp_path_factory.mktemp("report") / "run", "--configfile", TINY
    )
    out = workdir / "report.html"
    run_snakemake(workdir, "--report", str(out), "--configfile", TINY, timeout=300)
    assert out.stat().st_size > 10_000
    return out


@pytest.fixture(scope="module")
def probe(report, tmp_path_factory) -> dict[str, str]:
    """The page's HTML for each result's view, as the running report app rendered it."""
    chromium()
    work = tmp_path_factory.mktemp("report_probe")
    dom = dump_dom(with_script(report, PROBE_JS, work / "probe.html"), work / "profile")
    found = re.search(r'<pre id="genreflow-probe">(.*?)</pre>', dom, flags=re.S)
    assert found, "the report app did not finish rendering every result within the time budget"
    return json.loads(html.unescape(found.group(1)))


def test_landing_page_renders_categories_and_description(report, tmp_path):
    chromium()
    text = visible_text(dump_dom(report, tmp_path / "profile"))
    for category in CATEGORIES:  # drawn by the report's JavaScript: proof that it ran
        assert category in text
    assert "genreflow turned the audio in results/demo/audio into log-mel spectrograms" in text
    for name in [
        "confusion_matrix.png",
        "per_class.tsv",
        "training_curves.png",
        "summary.tsv",
        "rejected.tsv",
    ]:
        assert name in text, name


def test_every_result_shows_its_caption(probe):
    assert set(RESULTS) <= set(probe), sorted(probe)
    for path, phrase in RESULTS.items():
        view = probe[path]
        assert phrase in visible_text(view), path
        assert "system-message" not in view, f"{path}: docutils could not render the caption"


def rendered_rows(view: str) -> list[list[str]]:
    """Body rows of the (only) table in a caption, as cell texts."""
    body = re.search(r"<tbody[^>]*>(.*?)</tbody>", view, flags=re.S)
    assert body, "no table in the caption"
    return [
        [visible_text(c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row, flags=re.S)]
        for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body.group(1), flags=re.S)
    ]


def tsv_rows(path: Path) -> list[list[str]]:
    with open(path, newline="") as fh:
        return list(csv.reader(fh, delimiter="\t"))[1:]


def test_tables_are_readable_in_the_report(probe, tiny_demo_run):
    """Per-genre scores and the dataset summary appear as tables with the files' very numbers."""
    per_class = rendered_rows(probe["results/metrics/per_class.tsv"])
    assert per_class == tsv_rows(tiny_demo_run / "results/metrics/per_class.tsv")
    assert len(per_class) == 10
    summary = rendered_rows(probe["results/split/summary.tsv"])
    assert summary == tsv_rows(tiny_demo_run / "results/split/summary.tsv")
    assert [row[0] for row in summary[-3:]] == ["total", "share", "asked"]
    assert summary[-3][4] == "80"  # 10 genres x 8 demo tracks


def test_qc_caption_says_nothing_was_rejected_when_nothing_was(probe, tiny_demo_run):
    assert tsv_rows(tiny_demo_run / "results/qc/rejected.tsv") == []
    assert "No audio file was rejected." in visible_text(probe["results/qc/rejected.tsv"])


def test_confusion_matrix_is_shown_as_an_image(probe):
    assert re.match(
        r'<img src="data:image/png;[^"]*filename=confusion_matrix\.png;base64,iVBORw0KGgo',
        probe["@content"],
    ), probe["@content"][:80]


def test_screenshot_of_the_metrics_view(report, tmp_path):
    from PIL import Image, ImageStat

    chromium()
    png = tmp_path / "report.png"
    screenshot(report, png, tmp_path)
    image = Image.open(png).convert("L")
    assert image.size == (1280, 800)
    # the main pane holds the confusion matrix, not a blank page
    assert ImageStat.Stat(image.crop((640, 100, 1240, 700))).stddev[0] > 20


def test_readme_screenshot_exists():
    from PIL import Image

    assert Image.open(REPO / "docs" / "report.png").size == (1280, 800)


# --- progress a person can follow during a run --------------------------------------------


def test_train_log_has_one_line_per_epoch_with_the_history_numbers(tiny_demo_run):
    with open(tiny_demo_run / "results/model/seed_42/history.csv", newline="") as fh:
        history = list(csv.DictReader(fh))
    log = (tiny_demo_run / "results/logs/train/seed_42.log").read_text()
    lines = re.findall(r"epoch (\d+): (.*)", log)
    assert [int(n) for n, _ in lines] == [int(row["epoch"]) + 1 for row in history]
    for (_, values), row in zip(lines, history):
        logged = dict(kv.split("=") for kv in values.split(", "))
        for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
            assert abs(float(logged[key]) - float(row[key])) < 1e-4, (key, logged, row)


def test_snakemake_progress_is_logged(tiny_demo_run):
    logs = sorted((tiny_demo_run / ".snakemake" / "log").glob("*.snakemake.log"))
    first_run = logs[0].read_text()
    steps = [
        int(m) for m in re.findall(r"^(\d+) of \d+ steps \(\d+%\) done", first_run, flags=re.M)
    ]
    assert steps == list(range(1, len(steps) + 1)) and len(steps) > 5
    assert re.search(r"^\d+ of \d+ steps \(100%\) done", first_run, flags=re.M)


# --- captions, rendered the way Snakemake renders them, for cases the demo run never has ------


def render_caption(name: str, **snakemake) -> str:
    from docutils.core import publish_parts
    from jinja2 import Environment

    env = Environment(trim_blocks=True, lstrip_blocks=True)  # as snakemake.report does
    text = env.from_string((CAPTIONS / name).read_text()).render(
        snakemake=SimpleNamespace(**snakemake)
    )
    return publish_parts(text, writer="html")["body"]


def test_rejected_caption_lists_rejected_and_counts_ignored_files(tmp_path):
    tsv = tmp_path / "rejected.tsv"
    tsv.write_text(
        "path\tgenre\ttrack_id\treason\naudio/jazz/jazz.00054.wav\tjazz\tjazz.00054\tlisted in known_bad_tracks\n"
    )
    rejected = [{"path": "audio/jazz/jazz.00054.wav", "reason": "listed in known_bad_tracks"}]
    ignored = [{"path": "audio/blues/.DS_Store"}, {"path": "audio/blues/blues.mf"}]
    out = render_caption(
        "rejected.rst",
        params=SimpleNamespace(rejected=rejected, ignored=ignored),
        output=SimpleNamespace(rejected=str(tsv)),
        config={},
    )
    assert "1 rejected audio file(s)" in out and "jazz.00054" in out and "<table" in out
    assert "2 other file(s)" in visible_text(out)
    assert "No audio file was rejected" not in out and "system-message" not in out


def test_every_caption_renders_without_docutils_errors(tmp_path):
    """Catches RST mistakes in a caption before a report run does."""
    table = tmp_path / "t.tsv"
    table.write_text("genre\tx\nblues\t1\n")
    fake = dict(
        params=SimpleNamespace(recipe="cnn", seeds=[1, 2], rejected=[], ignored=[]),
        output=SimpleNamespace(per_class=str(table), summary=str(table), rejected=str(table)),
        config={
            "audio_dir": "a",
            "split": {"method": "hash", "seed": 1},
            "train": {"recipe": "cnn", "seeds": [1], "patience": 3},
            "spectrogram": {"kind": "logmel"},
        },
    )
    for caption in sorted(CAPTIONS.glob("*.rst")):
        if caption.name == "workflow.rst":
            continue  # rendered with other variables; covered by the landing page test
        out = render_caption(caption.name, **fake)
        assert "system-message" not in out and len(visible_text(out)) > 40, caption.name


if __name__ == "__main__":  # regenerate the README screenshot from a finished run's report
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        screenshot(Path(sys.argv[1]), Path(sys.argv[2]), Path(tmp))
    print(f"wrote {sys.argv[2]}")
