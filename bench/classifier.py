"""Classifier figures, measured in a fresh process so that load time and peak RSS are its own.

`python -m bench.classifier` prints one JSON object; `make bench` runs it as its first phase.
"""

from __future__ import annotations

import json
import resource
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEV = ROOT / "nlp_models" / "corpus" / "dev.jsonl"

# The targets; reported, never asserted.
P99_MAX_MS = 5.0
PIPE_MIN_PER_S = 2000.0
LOAD_MAX_S = 2.0
SIZE_MAX_MB = 50.0


@dataclass
class ClassifierResult:
    messages: int
    load_s: float  # importing spaCy and loading the model, in a fresh interpreter
    size_mb: float
    single_p50_ms: float  # one message at a time, through the whole classify path
    single_p99_ms: float
    pipe_per_s: float  # nlp.pipe over the dev split, best of 3
    classify_per_s: float  # classify_many (prepare + pipe + decide) over the dev split
    peak_rss_mb: float


def _directory_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 1e6


def measure_here() -> ClassifierResult:
    started = time.perf_counter()
    from dsr_bot.nlp.classifier import MODEL_DIR, SpacyClassifier

    classifier = SpacyClassifier.load(MODEL_DIR)
    load_s = time.perf_counter() - started
    from dsr_bot.nlp.corpus import read
    from dsr_bot.nlp.text import prepare

    messages = [("", e.text) for e in read(DEV)]
    classifier.classify_many(messages[:50])  # warm-up
    single = []
    for message in messages:
        t = time.perf_counter()
        classifier.classify_many([message])
        single.append((time.perf_counter() - t) * 1000)
    prepared = [prepare(s, t).lower() for s, t in messages]
    pipe = []
    for _ in range(3):
        t = time.perf_counter()
        classifier.scores(prepared)
        pipe.append(len(prepared) / (time.perf_counter() - t))
    t = time.perf_counter()
    classifier.classify_many(messages)
    classify_per_s = len(messages) / (time.perf_counter() - t)
    quantiles = statistics.quantiles(single, n=100)
    return ClassifierResult(
        messages=len(messages),
        load_s=load_s,
        size_mb=_directory_mb(MODEL_DIR),
        single_p50_ms=statistics.median(single),
        single_p99_ms=quantiles[98],
        pipe_per_s=max(pipe),
        classify_per_s=classify_per_s,
        peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    )


def measure() -> ClassifierResult:
    """In a child interpreter: the parent has spaCy imported and a loaded bot's memory already."""
    done = subprocess.run(
        [sys.executable, "-m", "bench.classifier"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    if done.returncode != 0:
        raise RuntimeError(f"classifier bench failed: {done.stderr.strip()[-500:]}")
    return ClassifierResult(**json.loads(done.stdout))


def rows(r: ClassifierResult) -> list[str]:
    def status(ok: bool) -> str:
        return "PASS" if ok else "MISS"

    return [
        f"| Classifier, one message at a time ({r.messages} dev messages) | p50 "
        f"{r.single_p50_ms:.2f} ms, **p99 {r.single_p99_ms:.2f} ms** | p99 <= {P99_MAX_MS:.0f} ms "
        f"| {status(r.single_p99_ms <= P99_MAX_MS)} |",
        f"| Classifier, batch with nlp.pipe | **{r.pipe_per_s:,.0f} msg/s** (whole classify "
        f"path: {r.classify_per_s:,.0f} msg/s) | >= {PIPE_MIN_PER_S:,.0f} msg/s "
        f"| {status(r.pipe_per_s >= PIPE_MIN_PER_S)} |",
        f"| Classifier load (import spaCy + model), fresh process | **{r.load_s:.2f} s** "
        f"| <= {LOAD_MAX_S:.0f} s | {status(r.load_s <= LOAD_MAX_S)} |",
        f"| Classifier model size on disk | **{r.size_mb:.1f} MB** | <= {SIZE_MAX_MB:.0f} MB "
        f"| {status(r.size_mb <= SIZE_MAX_MB)} |",
        f"| Classifier peak RSS (load + all of the above) | {r.peak_rss_mb:.0f} MB | reported "
        f"| - |",
    ]


if __name__ == "__main__":
    from dataclasses import asdict

    print(json.dumps(asdict(measure_here())))
