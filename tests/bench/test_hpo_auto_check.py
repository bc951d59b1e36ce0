"""The hpo bench's auto check: auto's pick against the best searcher per cell, and the
ceiling of any rule that sees only the space, the budget and the parallelism."""

from __future__ import annotations

from raysearch.bench.functions import problem
from raysearch.bench.hpo import auto_check, main
from raysearch.searchers.auto import choose


def _record(method: str, fn: str, regret: float, seed: int = 0) -> dict:
    """One run whose best after 10 trials is ``regret`` above the known optimum."""
    best = problem(fn)[2] + regret
    return {"method": method, "function": fn, "seed": seed, "parallel": 1, "best": {"n10": best}}


def test_equal_spaces_share_one_choice_so_the_ceiling_counts_it() -> None:
    # the two FCNet tables have one space; GP is best on one, TPE on the other
    assert problem("fcnet_naval")[0] == problem("fcnet_protein")[0]
    regret = {
        "fcnet_naval": {"gp": 1e-5, "tpe": 1e-2, "evolution": 1e-2},
        "fcnet_protein": {"gp": 1e-2, "tpe": 1e-5, "evolution": 1e-2},
        "branin": {"gp": 1e-3, "tpe": 1e-3, "evolution": 1e-3},  # a tie: any pick is in
    }
    records = [_record(m, fn, r) for fn, row in regret.items() for m, r in row.items()]
    got = auto_check(records)
    assert got["cells"] == 3
    assert got["ceiling"] == 2  # one of the two tables at most, and branin
    pick = choose(problem("fcnet_naval")[0], n_trials=10, parallelism=1).name
    expected = 1 + (pick == "gp") + (pick == "tpe")
    assert got["within"] == expected and len(got["misses"]) == 3 - expected
    # a gap of exactly 3 log10 (1e-2 against 1e-5) is named in the misses
    assert all("+3.00" in m for m in got["misses"] if "fcnet" in m)


def test_seeds_are_averaged_in_log_space_before_the_comparison() -> None:
    fn = "branin"
    records = [_record("gp", fn, 1e-1, 0), _record("gp", fn, 1e-5, 1)]  # mean log10: -3
    records += [_record("tpe", fn, 1e-3, s) for s in (0, 1)]  # -3
    records += [_record("evolution", fn, 1e-2, s) for s in (0, 1)]  # -2
    got = auto_check(records)
    pick = choose(problem(fn)[0], n_trials=10, parallelism=1).name
    assert got["within"] == int(pick in ("gp", "tpe")) and got["ceiling"] == 1


def test_check_option_reads_a_saved_run(tmp_path, capsys) -> None:
    out = tmp_path / "hpo.json"
    args = ["--seeds", "2", "--budget", "5", "--functions", "branin", "--parallel", "1"]
    methods = ["--methods", "gp", "tpe", "evolution", "--procs", "1"]
    assert main([*args, *methods, "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    line = next(x for x in printed.splitlines() if x.startswith("auto check:"))
    assert "/1 cells" in line
    # the same check from the saved JSON, without running anything
    assert main(["--check", str(out)]) == 0
    again = capsys.readouterr().out
    assert next(x for x in again.splitlines() if x.startswith("auto check:")) == line
