"""Experiment files: validation with clear, specific errors; safe loading."""

from __future__ import annotations

import pytest
import yaml

from raysearch.cli.experiment import ExperimentError, load_experiment, parse_experiment

BASE = {
    "trainable": "raysearch.examples.demo:train_lightgbm",
    "metric": "auc",
    "mode": "max",
    "space": {"learning_rate": {"float": [0.01, 0.3], "log": True}, "seed": 0},
}


def test_valid_file_loads(tmp_path):
    path = tmp_path / "exp.yaml"
    path.write_text(
        yaml.safe_dump({**BASE, "searcher": {"name": "sobol", "seed": 1}, "storage_path": "out"})
    )
    exp = load_experiment(path)
    assert exp.searcher == "sobol" and exp.searcher_kwargs == {"seed": 1}
    assert exp.storage_path is not None and exp.storage_path.endswith("out")
    core = exp.build_searcher()
    assert core.space == exp.space and core.sampler == "sobol"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"metrc": "auc"}, "unknown key 'metrc' \\(did you mean 'metric'\\?\\)"),
        ({"mode": "maximize"}, "'mode' must be 'min' or 'max'"),
        ({"num_samples": "ten"}, "'num_samples' must be a int"),
        ({"num_samples": 0}, "'num_samples' must be >= 1"),
        ({"searcher": "tpee"}, "unknown searcher 'tpee'"),
        ({"searcher": {"name": "random", "samplr": "sobol"}}, "did you mean 'sampler'"),
        ({"searcher": {"sampler": "sobol"}}, "needs a 'name'"),
        ({"scheduler": "asah"}, "unknown scheduler 'asah'"),
        ({"space": {"lr": {"float": [1, 0]}}}, "bad 'space': Float needs low < high"),
        ({"space": {"lr": {"eval": "1+1"}}}, "would evaluate"),
        ({"stop": {"eval": "1"}}, "would evaluate"),
        ({"space": {"seed": 0}}, "no parameter to search"),
        ({"space": {"y": {"floot": [0, 1]}}}, "bad 'space': parameter 'y': 'floot'.*'float'\\?"),
        ({"trainable": "train"}, "import path"),
        ({"loggers": "csv"}, "'loggers' must be json, all or none"),
        ({"resources": {"cpu": "lots"}}, "'resources.cpu' must be a number >= 0.*got 'lots'"),
        ({"resources": {"gpu": -1}}, "'resources.gpu' must be a number >= 0.*got -1"),
        ({"fail_fast": -1}, "'fail_fast' must be >= 0"),
    ],
)
def test_bad_files_get_specific_errors(change, message):
    data = {**BASE, **change}
    if "metrc" in change:
        del data["metric"]
    with pytest.raises(ExperimentError, match=message):
        parse_experiment(data)


def test_fail_fast_defaults_to_3_and_0_turns_it_off():
    assert parse_experiment(BASE).run_kwargs()["fail_fast"] == 3
    assert parse_experiment({**BASE, "fail_fast": 0}).run_kwargs()["fail_fast"] == 0


def test_missing_required_key():
    data = dict(BASE)
    del data["space"]
    with pytest.raises(ExperimentError, match="missing required key 'space'"):
        parse_experiment(data)


def test_safe_loader_refuses_python_tags(tmp_path):
    path = tmp_path / "evil.yaml"
    path.write_text(
        "trainable: !!python/object/apply:os.system ['true']\nmetric: a\nmode: max\nspace: {}\n"
    )
    with pytest.raises(ExperimentError, match="not valid YAML"):
        load_experiment(path)


def test_missing_file():
    with pytest.raises(ExperimentError, match="does not exist"):
        load_experiment("/nonexistent/exp.yaml")


def test_packaged_example_is_valid():
    from importlib.resources import files

    path = files("raysearch") / "examples" / "quickstart.yaml"
    exp = load_experiment(str(path))
    assert exp.metric == "auc" and exp.name == "quickstart"


def test_budget_and_the_auto_searcher():
    exp = parse_experiment({**BASE, "budget": "30m"})
    assert exp.budget == "30m" and exp.run_kwargs()["budget"] == "30m"
    assert parse_experiment({**BASE, "budget": 500}).run_kwargs()["budget"] == 500
    # no searcher: "auto", which raysearch.run resolves (build_searcher leaves it to it)
    assert exp.searcher == "auto" and exp.build_searcher() is None
    assert parse_experiment({**BASE, "searcher": "auto"}).build_searcher() is None
    with pytest.raises(ExperimentError, match="'budget'.*got 'lots'"):
        parse_experiment({**BASE, "budget": "lots"})
    with pytest.raises(ExperimentError, match="'budget'.*must be > 0"):
        parse_experiment({**BASE, "budget": 0})
    with pytest.raises(ExperimentError, match="searcher 'auto' takes no arguments"):
        parse_experiment({**BASE, "searcher": {"name": "auto", "seed": 1}})
