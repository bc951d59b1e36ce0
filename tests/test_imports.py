"""The core layer imports without Ray (and without torch)."""

from __future__ import annotations

import subprocess
import sys

CODE = """
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name == "ray" or name.startswith("ray.") or name == "torch" or name.startswith("torch."):
            raise ImportError(f"blocked {name}")
        return None
sys.meta_path.insert(0, Block())
import raysearch
import raysearch.space, raysearch.core, raysearch.searchers, raysearch.cli.experiment, raysearch.core.registry
import raysearch.testing.simulate
from raysearch.core import optimize
from raysearch.searchers import RandomSearch
s = raysearch.Space({"x": raysearch.Float(0, 1)})
r = optimize(RandomSearch(s, seed=0), lambda c: c["x"], 5)
assert len(r.trials) == 5
assert "ray" not in sys.modules and "torch" not in sys.modules
print("ok")
"""


def test_core_imports_without_ray_or_torch():
    out = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


def test_every_core_searcher_is_exported_by_raysearch_searchers():
    import raysearch.searchers
    from raysearch.searchers import GPSearch, GridSearch, RandomSearch, TPESearch
    from raysearch.searchers.gp import GPSearch as GPSearchFromModule

    assert GPSearch is GPSearchFromModule
    assert {"GPSearch", "GridSearch", "RandomSearch", "TPESearch"} <= set(
        raysearch.searchers.__all__
    )
    assert all(callable(c) for c in (GridSearch, RandomSearch, TPESearch))
