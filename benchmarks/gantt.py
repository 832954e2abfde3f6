"""A Gantt chart of a schedule: one row per device, installs hatched grey, tests coloured by
build, failed attempts outlined in red."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from qgjob.sim.trace import Trace


def draw_gantt(trace: Trace, events: list[dict[str, Any]], out: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    jobs = {job.job_id: job for job in trace.jobs}
    devices = sorted({e["device"] for e in events}, key=lambda d: (d.rsplit("-", 1)[0],
                                                                    int(d.rsplit("-", 1)[1])
                                                                    if d[-1].isdigit() else 0))
    builds = sorted({(j.app_version_id, j.target) for j in trace.jobs})
    palette = plt.get_cmap("tab20")
    colours = {build: palette(i % 20) for i, build in enumerate(builds)}
    fig, ax = plt.subplots(figsize=(14, 0.45 * len(devices) + 1.5))
    for row, device in enumerate(devices):
        for event in (e for e in events if e["device"] == device):
            width = event["end"] - event["start"]
            if event["kind"] == "install":
                ax.barh(row, width, left=event["start"], color="#d0d0d0", hatch="///",
                        edgecolor="#808080", linewidth=0.3)
                continue
            job = jobs[event["job_id"]]
            failed = event["outcome"] == "fail"
            ax.barh(row, width, left=event["start"],
                    color=colours[(job.app_version_id, job.target)],
                    edgecolor="red" if failed else "white", linewidth=1.0 if failed else 0.3)
    ax.set_yticks(range(len(devices)), devices)
    ax.invert_yaxis()
    ax.set_xlabel("seconds (virtual time)")
    ax.set_title(title + " - grey hatched: app installs; colours: builds; red edge: failed "
                 "attempt")
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=90)
    plt.close(fig)
