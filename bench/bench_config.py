"""Config handling at scale: load + validation + build of an N-feed config.yaml, against what
libyaml alone needs to read the same file, measured side by side in one run; and the same
feeds read from an OPML file (``feeds_from:``), held to the same bound.

Each measurement runs in a fresh interpreter (so no run inherits another's heap or warm
caches), in alternating order, and reports CPU seconds (``time.process_time``) of the phase
alone, imports excluded. The target (issue 13): tracker's load + validation + build ≤ 2× the
libyaml read. libyaml is quoted twice: as ``yaml.load(CSafeLoader)`` is usually called (with
the cyclic GC on) and with the GC paused, as tracker's loader reads; the ratio is held
against the stricter, GC-paused one.

    python bench/bench_config.py [--feeds 100000] [--rounds 3] [--src /work/main]

``--src`` imports tracker from another checkout (e.g. the main branch, for a before figure).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Each snippet prints the CPU seconds of its phase on its last line.
_LIBYAML = """
import gc, sys, time, yaml
text = open(sys.argv[1], encoding="utf-8").read()
if sys.argv[2] == "paused":
    gc.disable()
t = time.process_time()
yaml.load(text, Loader=yaml.CSafeLoader)
print(time.process_time() - t)
"""

_TRACKER = """
import sys, time
import tracker
print("tracker from", tracker.__file__)
from pathlib import Path
from tracker.config.loader import load
from tracker.config.settings import to_settings
from tracker.service.daemon import poll_settings
t = time.process_time()
settings = to_settings(load(Path(sys.argv[1])))
poll_settings(settings)
print(time.process_time() - t)
assert len(settings.feeds) == int(sys.argv[2]), len(settings.feeds)
"""


def write_config(path: Path, feeds: int) -> None:
    """An N-feed config as a large user has it: names, some intervals, some basic auth,
    a topic restricted to two feeds."""
    lines = [
        f"database: {path.parent / 'bench.db'}",
        "topics:",
        "  t1:",
        "    query: 'ukraine OR tariffs'",
        "    feeds: [Feed 1, Feed 7]",
        "feeds:",
    ]
    for i in range(feeds):
        lines.append(f"  - url: http://127.0.0.{1 + i % 8}:8080/f/{i}.xml")
        lines.append(f"    name: Feed {i}")
        if i % 10 == 0:
            lines.append("    interval: 30m")
        if i % 100 == 0:
            lines.append("    auth: {username: u, password: p}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def write_opml(path: Path, feeds: int) -> Path:
    """The same N feeds as a feed reader's export: 100 folders, titles as names; and a config
    that reads it (``feeds_from:``)."""
    out = ['<?xml version="1.0" encoding="UTF-8"?>', '<opml version="2.0">', "<body>"]
    for folder in range(100):
        out.append(f'<outline text="Folder {folder}">')
        for i in range(folder, feeds, 100):
            out.append(
                f'  <outline type="rss" text="Feed {i}" title="Feed {i}"'
                f' xmlUrl="http://127.0.0.{1 + i % 8}:8080/f/{i}.xml"/>'
            )
        out.append("</outline>")
    out += ["</body>", "</opml>", ""]
    path.write_text("\n".join(out), encoding="utf-8")
    config = path.with_suffix(".yaml")
    config.write_text(
        f"database: {path.parent / 'bench.db'}\nfeeds_from: [{path.name}]\n", encoding="utf-8"
    )
    return config


def _cpu(code: str, args: list[str], src: Path, cwd: str) -> float:
    # -S: no site, so the editable install's import hook cannot pick this checkout over
    # ``src``; the libraries come from this interpreter's site-packages, named explicitly.
    libs = sysconfig.get_paths()["purelib"]
    out = subprocess.run(
        [sys.executable, "-S", "-c", code, *args],
        capture_output=True,
        text=True,
        check=True,
        cwd=cwd,
        env={"PYTHONPATH": f"{src}:{libs}", "PATH": "/usr/bin:/bin"},
    )
    return float(out.stdout.strip().splitlines()[-1])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--feeds", type=int, default=100_000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--src", type=Path, default=ROOT, help="the checkout to import tracker from")
    args, _ = ap.parse_known_args()
    with tempfile.TemporaryDirectory() as tmp:
        cfg = Path(tmp) / "config.yaml"
        write_config(cfg, args.feeds)
        opml_cfg = write_opml(Path(tmp) / "subscriptions.opml", args.feeds)
        runs: dict[str, list[float]] = {
            "libyaml": [],
            "libyaml_gc_paused": [],
            "tracker": [],
            "tracker_opml": [],
        }
        jobs = [
            ("libyaml", _LIBYAML, [str(cfg), "on"]),
            ("libyaml_gc_paused", _LIBYAML, [str(cfg), "paused"]),
            ("tracker", _TRACKER, [str(cfg), str(args.feeds)]),
            # The same feeds from OPML, held to the same bound (against the YAML read).
            ("tracker_opml", _TRACKER, [str(opml_cfg), str(args.feeds)]),
        ]
        for r in range(args.rounds):
            order = jobs if r % 2 == 0 else jobs[::-1]
            for name, code, argv in order:
                runs[name].append(_cpu(code, argv, args.src, tmp))
                print(f"round {r + 1} {name}: {runs[name][-1]:.2f} s CPU", flush=True)
    med = {k: statistics.median(v) for k, v in runs.items()}
    ratio = med["tracker"] / med["libyaml_gc_paused"]
    print(
        json.dumps(
            {
                "bench": "config",
                "feeds": args.feeds,
                "src": str(args.src),
                "median_cpu_s": {k: round(v, 3) for k, v in med.items()},
                "ratio_vs_libyaml_gc_paused": round(ratio, 2),
                "ratio_vs_libyaml": round(med["tracker"] / med["libyaml"], 2),
                "opml_ratio_vs_libyaml_gc_paused": round(
                    med["tracker_opml"] / med["libyaml_gc_paused"], 2
                ),
                "target": "ratio_vs_libyaml_gc_paused <= 2",
                "met": ratio <= 2.0 and med["tracker_opml"] <= 2 * med["libyaml_gc_paused"],
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
