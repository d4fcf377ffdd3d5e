"""The PNG chart of a run: latency distributions, keyspace and concurrency curves."""

from __future__ import annotations

from pathlib import Path

from matplotlib.axes import Axes
from matplotlib.axis import Axis
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from benchmarks.harness import Section
from benchmarks.runner import Results


def _log(axis: Axis) -> None:
    """Label a log axis with plain numbers at 1, 2 and 5 times each power of ten."""
    axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    axis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:,.0f}"))
    axis.set_minor_formatter(NullFormatter())


def _boxes(ax: Axes, sections: list[Section], title: str) -> None:
    """Draw one horizontal box per contender: quartiles, median, whiskers at p1 and p99."""
    names = [name for section in sections for name in section.samples]
    data = [[ns / 1000 for ns in section.samples[name]] for section in sections for name in section.samples]
    if not data:
        ax.set_axis_off()
        return
    ax.boxplot(data, orientation="horizontal", whis=(1, 99), showfliers=False, tick_labels=names)
    ax.invert_yaxis()
    ax.set_xscale("log")
    _log(ax.xaxis)
    ax.set_xlabel("latency, µs (log); box: p25-p75, whiskers: p1-p99")
    ax.set_title(title)
    ax.grid(axis="x", which="both", alpha=0.3)


def _ecdf(ax: Axes, section: Section) -> None:
    for name, samples in section.samples.items():
        ordered = sorted(ns / 1000 for ns in samples)
        ax.plot(ordered, [(n + 1) / len(ordered) for n in range(len(ordered))], label=name)
    ax.set_xscale("log")
    _log(ax.xaxis)
    ax.set_xlabel("latency, µs (log)")
    ax.set_ylabel("fraction of calls at most")
    ax.set_title(section.title)
    ax.legend(fontsize="small")
    ax.grid(which="both", alpha=0.3)


def _keyspace(ax: Axes, section: Section) -> None:
    levels = section.extra["levels"]
    sessions = [level["sessions"] for level in levels]
    series = {
        "list_user_sessions (SET index)": [section.row(level["index"]).p50_us for level in levels],
        "SMEMBERS (one round trip, reference)": [section.row(level["reference"]).p50_us for level in levels],
    }
    for key in levels[0]:
        if key.startswith("scan ("):
            series[f"SCAN pattern {key[5:]}"] = [section.row(level[key]).p50_us for level in levels]
    for label, values in series.items():
        ax.plot(sessions, values, marker="o", label=label)
    ax.set_xscale("log")
    ax.set_yscale("log")
    _log(ax.xaxis)
    _log(ax.yaxis)
    ax.set_xlabel("sessions in the keyspace (log)")
    ax.set_ylabel("p50 latency, µs (log)")
    ax.set_title(section.title)
    ax.legend(fontsize="small")
    ax.grid(which="both", alpha=0.3)


def _concurrency(ax: Axes, section: Section) -> None:
    levels = section.extra["levels"]
    tasks = [level["tasks"] for level in levels]
    ax.plot(tasks, [level["add_message_ops_per_s"] for level in levels], marker="o", label="add_message")
    ax.plot(tasks, [level["raw_rpush_ops_per_s"] for level in levels], marker="o", label="raw glide RPUSH")
    ax.set_xscale("log")
    _log(ax.xaxis)
    ax.set_xlabel("concurrent tasks (log)")
    ax.set_ylabel("calls per second")
    ax.set_title(section.title)
    ax.legend(fontsize="small")
    ax.grid(which="both", alpha=0.3)


def write_chart(results: Results, path: Path) -> Path:
    """Draw the run's chart into ``path`` (PNG) and return the path."""
    sections = results.sections
    figure = Figure(figsize=(16, 17), layout="constrained")
    axes = figure.subplots(3, 2)
    _boxes(axes[0][0], [sections["commands"]], sections["commands"].title)
    _boxes(axes[0][1], [sections["append"], sections["operations"], sections["strands"]], "Toolkit operations")
    _ecdf(axes[1][0], sections["append"])
    _boxes(axes[1][1], [sections["sizes"]], sections["sizes"].title)
    _keyspace(axes[2][0], sections["keyspace"])
    _concurrency(axes[2][1], sections["concurrency"])
    facts = results.facts
    versions, machine = facts.versions, facts.machine
    figure.suptitle(
        f"glide-memory {versions['glide_memory']} ({results.config.mode}): valkey-glide {versions['valkey_glide']}, "
        f"server {versions['server']}, Python {versions['python']}, {machine['cpu_count']} CPUs, {facts.started_at}"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=90)
    return path
