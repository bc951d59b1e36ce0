"""PBT and PB2 for Ray Tune, and the adapter that carries out exploit decisions.

``from raysearch.tune import PBTScheduler, PB2Scheduler`` and drop one into
``tune.TuneConfig(scheduler=...)``; unlike Ray's ``PopulationBasedTraining`` it works with
any search algorithm (the initial population can come from Sobol, TPE, ...), perturbs within
the search space, is seeded, and its population survives ``Tuner.restore`` (add
``callbacks=[scheduler.state_callback()]`` to the ``RunConfig``; ``raysearch.run`` does it).

How an exploit is carried out (:class:`ExploitingTuneScheduler`), for a member ``T`` that
continues from donor ``D``:

1. ``D``'s newest checkpoint is taken (waiting for a save in flight, as Ray does) and
   *copied* into ``T``'s trial directory (``pbt_exploit_*``). ``T`` owns the copy, so
   ``CheckpointConfig(num_to_keep=...)`` deleting ``D``'s old checkpoints cannot break the
   hand-over (ray-project/ray#9036), neither before ``T`` restarts nor after a driver crash.
   The copy is deleted once ``T`` has a checkpoint of its own.
2. ``T`` is paused without a checkpoint, gets ``D``'s config with the new hyperparameters,
   and ``D``'s checkpoint (the copy) as its latest one, with ``D``'s metrics (so
   ``training_iteration`` continues from ``D``'s).
3. When ``T`` runs again, Tune restores it from that checkpoint: a class trainable through
   ``load_checkpoint``, a function trainable by reading ``tune.get_checkpoint()``.

A member that crashes is never waited for: it leaves the population (a synchronous round
goes on without it) and, as Tune runs it again (``replace_crashed`` raises every trial's
``max_failures`` to at least 1), it is *replaced*: it restarts from a copy of a top
member's checkpoint with explored hyperparameters, not from its own state.

In synchronous mode a round also exploits members that are paused (or still pausing: those
are handed over once their own save has landed); pending hand-overs are saved with the
scheduler state. Trainables must report a checkpoint at least at every perturbation point
(with every result is simplest); a member without one cannot donate.

Every event is appended to ``raysearch_pbt_lineage.jsonl`` in the experiment directory
(:mod:`raysearch.schedulers.pbt.lineage`; ``raysearch pbt-lineage EXPERIMENT_DIR`` plots it).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pyarrow.fs
from ray.train._internal.session import _FutureTrainingResult, _TrainingResult
from ray.tune import Checkpoint
from ray.tune.experiment import Trial
from ray.tune.result import DEFAULT_METRIC
from ray.tune.schedulers import TrialScheduler

from raysearch.core.rng import SeedLike
from raysearch.core.scheduler import Scheduler as CoreScheduler
from raysearch.core.types import Exploit
from raysearch.schedulers.pbt import pb2 as core_pb2
from raysearch.schedulers.pbt import scheduler as core_pbt
from raysearch.schedulers.pbt.lineage import LINEAGE_FILE, LineageWriter
from raysearch.space import Categorical, Space
from raysearch.tune.scheduler import _DECISIONS, TuneScheduler, _find_tune_searcher
from raysearch.tune.searcher import sign_for_mode
from raysearch.tune.space import from_tune

__all__ = ["ExploitingTuneScheduler", "PBTScheduler", "PB2Scheduler", "mutation_space"]

logger = logging.getLogger(__name__)

_COPY_PREFIX = "pbt_exploit_"


def _to_space(value: Any, where: str, *, lists: str) -> Any:
    """Ray's ``hyperparam_mutations`` conventions -> raysearch parameters."""
    if isinstance(value, Mapping):
        return {
            k: _to_space(v, f"{where}/{k}" if where else str(k), lists=lists)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        if lists == "refuse":
            raise ValueError(
                f"hyperparam_bounds[{where!r}] is a raw list {list(value)!r}: give a search "
                "space definition instead, e.g. tune.uniform(low, high), "
                "tune.loguniform(low, high) or raysearch.space.Float(low, high, log=True)"
            )
        # Ray's PBT shifts list values to a neighbour: an ordered choice.
        return Categorical(list(value), ordered=True)
    if callable(value) and not hasattr(value, "sample"):
        raise ValueError(
            f"hyperparam_mutations[{where!r}] is a function; raysearch perturbs within a "
            "search space: give a Tune domain or a raysearch parameter"
        )
    return value


def mutation_space(
    mutations: Space | Mapping[str, Any] | None, *, lists: str = "choices"
) -> Space | None:
    """``hyperparam_mutations`` as a :class:`Space`: a Space, or a dict of Tune domains,
    raysearch parameters, nested dicts and (PBT only, as in Ray) lists of choices, which
    become ordered choices."""
    if mutations is None or isinstance(mutations, Space):
        return mutations
    if not isinstance(mutations, Mapping):
        raise TypeError(
            f"expected a raysearch Space or a dict of Tune domains, got {type(mutations).__name__}"
        )
    return from_tune(_to_space(dict(mutations), "", lists=lists))


class ExploitingTuneScheduler(TuneScheduler):
    """The Tune adapter for core schedulers that exploit (PBT, PB2): see the module
    docstring. ``TuneScheduler(core)`` builds one for such a core."""

    def __init__(
        self,
        scheduler: CoreScheduler,
        metric: str | None = None,
        mode: str | None = None,
        *,
        time_attr: str | None = None,
        replace_crashed: int = 1,
    ) -> None:
        if not getattr(scheduler, "exploits", False):
            raise TypeError(f"{type(scheduler).__name__} does not exploit; use TuneScheduler")
        attr = time_attr or getattr(scheduler, "time_attr", None) or "training_iteration"
        super().__init__(scheduler, metric, mode, time_attr=attr)
        if int(replace_crashed) < 0:
            raise ValueError(f"replace_crashed must be >= 0, got {replace_crashed!r}")
        self._replace_crashed = int(replace_crashed)
        self._trials: dict[str, Trial] = {}
        #: trial id -> hand-over waiting for the trial to be paused: config, path, metrics
        self._deferred: dict[str, dict[str, Any]] = {}
        #: trial id -> exploit whose donor has reported the step but not saved it yet
        self._later: dict[str, Exploit] = {}
        #: trial id -> checkpoint copies it owns (storage paths)
        self._copies: dict[str, list[str]] = {}
        self._set_up = False
        self._lineage: LineageWriter | None = None
        self._restored_at: int | None = None
        self._warned: set[str] = set()
        self._no_checkpoint = 0

    # ------------------------------------------------------------------ pickling
    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_trials"] = {}
        return state

    # ------------------------------------------------------------------ set-up
    @property
    def pbt(self) -> core_pbt.PBTScheduler:
        core = self.core
        assert isinstance(core, core_pbt.PBTScheduler)
        return core

    def _setup(self, controller: Any, trial: Trial) -> None:
        if self._set_up:
            return
        self._set_up = True
        searcher = _find_tune_searcher(controller)
        if searcher is not None and searcher.max_concurrent is not None:
            # The population lives at once and takes turns on the slots (PAUSE); a limit on
            # live trials would keep most of it from ever being created.
            logger.info(
                "%s: lifting the searcher's limit of %d live trials (the population is "
                "num_samples trials taking turns on the free slots)",
                type(self.core).__name__,
                searcher.max_concurrent,
            )
            searcher.max_concurrent = None
        core = self.core
        if isinstance(core, core_pbt.PBTScheduler) and not core.is_setup:
            if searcher is not None and searcher.core.is_setup:
                space = searcher.core.space
                logger.info(
                    "%s mutates the searcher's parameters (%s); pass hyperparam_mutations "
                    "to choose which",
                    type(core).__name__,
                    ", ".join(space.names),
                )
                core.setup(space)
            else:
                raise ValueError(
                    f"{type(core).__name__} needs hyperparam_mutations (the parameters it may "
                    "change) unless a raysearch searcher provides the search space"
                )
        if isinstance(core, core_pbt.PBTScheduler):
            core.donor_filter = self._can_donate
        if trial.storage is not None:
            self._lineage = LineageWriter(
                Path(trial.storage.experiment_driver_staging_path) / LINEAGE_FILE
            )
            if not self._lineage.path.exists():
                self._fetch_lineage(trial)
            if not self._lineage.path.exists():
                self._lineage.write([self._header()])

    def _fetch_lineage(self, trial: Trial) -> None:
        """A restored experiment starts with an empty staging directory: continue the log
        that was synced to the experiment's storage before the interruption."""
        storage, lineage = trial.storage, self._lineage
        if storage is None or lineage is None:
            return
        source = f"{storage.experiment_fs_path}/{LINEAGE_FILE}"
        try:
            fs = storage.storage_filesystem
            if fs.get_file_info(source).type != pyarrow.fs.FileType.File:
                return
            lineage.path.parent.mkdir(parents=True, exist_ok=True)
            pyarrow.fs.copy_files(
                source,
                str(lineage.path),
                source_filesystem=fs,
                destination_filesystem=pyarrow.fs.LocalFileSystem(),
            )
            with open(lineage.path, "rb+") as f:  # a line cut short must stay on its own
                f.seek(0, 2)
                if f.tell() > 0:
                    f.seek(-1, 2)
                    if f.read(1) != b"\n":
                        f.write(b"\n")
        except Exception as err:  # storage trouble: start a new log rather than fail
            logger.warning("could not fetch the PBT lineage log %s: %s", source, err)

    def _header(self) -> dict[str, Any]:
        core = self.core
        space = core.space.to_dict() if isinstance(core, core_pbt.PBTScheduler) else None
        return {
            "event": "header",
            "metric": self._metric or DEFAULT_METRIC,
            "mode": self._mode,
            "time_attr": self.time_attr,
            "scheduler": repr(core),
            "space": space,
            "time": time.time(),
        }

    # ------------------------------------------------------------------ state
    def adapter_state(self) -> dict[str, Any] | None:
        later = {}
        core = self.core
        if isinstance(core, core_pbt.PBTScheduler) and core.is_setup:
            later = {t: [e.donor, core.space.to_tokens(e.params)] for t, e in self._later.items()}
        return {"deferred": self._deferred, "copies": self._copies, "later": later}

    def load_adapter_state(self, state: dict[str, Any] | None) -> None:
        core = self.core
        if isinstance(core, core_pbt.PBTScheduler):
            self._restored_at = core.next_event_id
        if state:
            self._deferred = dict(state.get("deferred") or {})
            if isinstance(core, core_pbt.PBTScheduler) and core.is_setup:
                self._later = {
                    t: Exploit(donor, core.space.from_tokens(tokens))
                    for t, (donor, tokens) in (state.get("later") or {}).items()
                }
            self._copies = {k: list(v) for k, v in (state.get("copies") or {}).items()}

    # ------------------------------------------------------------------ lineage
    def _flush(self) -> None:
        core = self.core
        if not isinstance(core, core_pbt.PBTScheduler):
            return
        events = core.drain_events()
        if self._lineage is None:
            return
        records: list[dict[str, Any]] = []
        if self._restored_at is not None:
            # Events from before the crash with these ids were lost with the driver's
            # state; the ones written from now on supersede them.
            records.append({"event": "restore", "next_id": self._restored_at, "time": time.time()})
            self._restored_at = None
        sign = sign_for_mode(self._mode) if self._mode else 1.0
        now = time.time()
        for ev in events:
            record = dict(ev)
            for loss_key, score_key in (
                ("loss", "score"),
                ("old_loss", "old_score"),
                ("donor_loss", "donor_score"),
            ):
                if record.get(loss_key) is not None:
                    record[score_key] = sign * float(record[loss_key])
            record["time"] = now
            records.append(record)
        try:
            self._lineage.write(records)
        except OSError as err:  # a full disk must not kill the experiment
            if "lineage" not in self._warned:
                self._warned.add("lineage")
                logger.warning("could not write the PBT lineage log: %s", err)

    # ------------------------------------------------------------------ checkpoints
    def _can_donate(self, trial_id: str) -> bool:
        trial = self._trials.get(trial_id)
        if trial is None:
            return False
        if isinstance(trial.temporary_state.saving_to, _FutureTrainingResult):
            return True
        if trial.checkpoint is not None:
            return True
        self._no_checkpoint += 1
        if self._no_checkpoint > 3 and "no-checkpoint" not in self._warned:
            self._warned.add("no-checkpoint")
            logger.warning(
                "trial %s has no checkpoint to hand over: PBT needs trainables that report one "
                "at least at every perturbation point (tune.report(metrics, checkpoint=...); "
                "function trainables resume from tune.get_checkpoint())",
                trial_id,
            )
        return False

    @staticmethod
    def _donor_checkpoint(donor: Trial) -> _TrainingResult | None:
        saving = donor.temporary_state.saving_to
        if isinstance(saving, _FutureTrainingResult):
            try:
                result = saving.resolve()
            except Exception:  # the save failed: fall back to the last registered one
                result = None
            if result is not None and result.checkpoint is not None:
                return result
        latest = donor.latest_checkpoint_result
        if latest is not None and latest.checkpoint is not None:
            return latest
        return None

    @staticmethod
    def _copy(checkpoint: Checkpoint, trial: Trial, donor: str) -> Checkpoint:
        storage = trial.storage
        if storage is None:
            raise RuntimeError(f"trial {trial.trial_id} has no storage context")
        fs = storage.storage_filesystem
        dest = f"{storage.trial_fs_path}/{_COPY_PREFIX}{donor}_{uuid.uuid4().hex[:8]}"
        fs.create_dir(dest, recursive=True)
        pyarrow.fs.copy_files(
            checkpoint.path,
            dest,
            source_filesystem=checkpoint.filesystem,
            destination_filesystem=fs,
        )
        return Checkpoint(path=dest, filesystem=fs)

    def _delete_copies(self, trial: Trial, keep_latest: bool = True) -> None:
        paths = self._copies.get(trial.trial_id)
        if not paths:
            return
        current = trial.checkpoint.path if trial.checkpoint is not None else None
        deferred = self._deferred.get(trial.trial_id, {}).get("path")
        keep = [p for p in paths if (keep_latest and p == current) or p == deferred]
        storage = trial.storage
        for path in paths:
            if path in keep or storage is None:
                continue
            try:
                storage.storage_filesystem.delete_dir(path)
            except (OSError, FileNotFoundError):
                pass
        if keep:
            self._copies[trial.trial_id] = keep
        else:
            self._copies.pop(trial.trial_id, None)

    def _hand_over(
        self, trial: Trial, exploit: Exploit
    ) -> tuple[dict[str, Any], Checkpoint, dict[str, Any]] | None:
        """The new config, a copy of the donor's checkpoint and its metrics (None if the
        donor has no checkpoint to give)."""
        donor = self._trials.get(exploit.donor)
        result = self._donor_checkpoint(donor) if donor is not None else None
        if donor is None or result is None:
            return None
        try:
            copy = self._copy(result.checkpoint, trial, exploit.donor)
        except Exception as err:  # storage trouble: skip this exploit, keep training
            logger.warning(
                "could not copy the checkpoint of %s for %s: %s", exploit.donor, trial, err
            )
            return None
        self._copies.setdefault(trial.trial_id, []).append(copy.path)
        config = core_pbt.config_with_params(self.pbt.space, donor.config, exploit.params)
        # Tune makes these the trial's last result when it restores: keep the trial's own
        # identity (and config), not the donor's.
        metrics = dict(result.metrics or {})
        metrics["trial_id"] = trial.trial_id
        metrics.pop("config", None)
        return config, copy, metrics

    def _apply(
        self,
        controller: Any,
        trial: Trial,
        config: dict[str, Any],
        checkpoint: Checkpoint,
        metrics: dict[str, Any],
    ) -> None:
        trial.set_config(config)
        manager = trial.run_metadata.checkpoint_manager
        manager._latest_checkpoint_result = _TrainingResult(checkpoint=checkpoint, metrics=metrics)
        trial.run_metadata.invalidate_cache()
        trial.invalidate_json_state()
        inner = getattr(controller, "_tune_controller", controller)
        mark = getattr(inner, "_mark_trial_to_checkpoint", None)
        if callable(mark):
            mark(trial)

    def _exploit(self, tune_controller: Any, trial: Trial, decision: Exploit) -> str:
        handed = self._hand_over(trial, decision)
        if handed is None:
            self.pbt.exploit_failed(trial.trial_id)
            logger.info(
                "%s: %s has no checkpoint; %s keeps training",
                type(self.core).__name__,
                decision.donor,
                trial.trial_id,
            )
            return TrialScheduler.CONTINUE
        config, checkpoint, metrics = handed
        if trial.status == Trial.RUNNING:
            tune_controller.pause_trial(trial, should_checkpoint=False)
        self._apply(tune_controller, trial, config, checkpoint, metrics)
        logger.debug(
            "%s continues from %s with %s", trial.trial_id, decision.donor, decision.params
        )
        return TrialScheduler.NOOP

    def _donor_not_saved(self, trial_id: str, exploit: Exploit) -> bool:
        """The donor is running and has reported the step of the exploit, but Tune saves
        that result's checkpoint only after ``on_trial_result`` returns (the donor is the
        member that just reported): its newest checkpoint is older than the step."""
        donor = self._trials.get(exploit.donor)
        member = self.pbt.members.get(trial_id)
        if donor is None or member is None or donor.status != Trial.RUNNING:
            return False
        if isinstance(donor.temporary_state.saving_to, _FutureTrainingResult):
            return False
        latest = donor.latest_checkpoint_result
        got = (latest.metrics or {}).get(self.time_attr) if latest is not None else None
        return not isinstance(got, int | float) or float(got) < member.step

    def _apply_later(self, controller: Any) -> None:
        for trial_id in list(self._later):
            exploit = self._later[trial_id]
            trial = self._trials.get(trial_id)
            if trial is not None and trial.status == Trial.RUNNING:
                # it runs again already (the donor saves only at some steps): it keeps
                # training its own weights, the exploit is dropped
                del self._later[trial_id]
                self.pbt.exploit_failed(trial_id)
                continue
            if not self._donor_not_saved(trial_id, exploit):
                del self._later[trial_id]
                self._exploit_other(controller, trial_id, exploit)

    def _exploit_other(self, controller: Any, trial_id: str, exploit: Exploit) -> None:
        trial = self._trials.get(trial_id)
        if trial is None or trial.status in (Trial.TERMINATED, Trial.ERROR):
            self.pbt.exploit_failed(trial_id)
            return
        if self._donor_not_saved(trial_id, exploit):
            # an older checkpoint would make the member train those steps again
            self._later[trial_id] = exploit
            return
        handed = self._hand_over(trial, exploit)
        if handed is None:
            self.pbt.exploit_failed(trial_id)
            return
        config, checkpoint, metrics = handed
        if trial.status in (Trial.PAUSED, Trial.PENDING) and not trial.is_saving:
            self._apply(controller, trial, config, checkpoint, metrics)
        else:  # still pausing: its own save would overwrite the hand-over
            self._deferred[trial_id] = {
                "config": config,
                "path": checkpoint.path,
                "metrics": metrics,
            }

    def _apply_deferred(self, controller: Any) -> None:
        for trial_id in list(self._deferred):
            trial = self._trials.get(trial_id)
            if trial is None:
                continue
            if trial.status in (Trial.TERMINATED, Trial.ERROR):
                self._deferred.pop(trial_id)
                self._delete_copies(trial, keep_latest=True)
                continue
            if trial.status in (Trial.PAUSED, Trial.PENDING) and not trial.is_saving:
                item = self._deferred.pop(trial_id)
                storage = trial.storage
                fs = storage.storage_filesystem if storage is not None else None
                self._apply(
                    controller,
                    trial,
                    item["config"],
                    Checkpoint(path=item["path"], filesystem=fs),
                    dict(item.get("metrics") or {}),
                )

    def _after(self, controller: Any) -> None:
        self._apply_later(controller)
        for trial_id, exploit in self.pbt.take_exploits():
            self._exploit_other(controller, trial_id, exploit)
        self._flush()

    # ------------------------------------------------------------------ Tune hooks
    def on_trial_add(self, tune_controller: Any, trial: Trial) -> None:
        self._trials[trial.trial_id] = trial
        if 0 <= trial.max_failures < self._replace_crashed:
            # Tune runs a crashed trial again only within max_failures: that is how a
            # crashed member comes back, replaced (see on_trial_error).
            trial.max_failures = self._replace_crashed
        self._setup(tune_controller, trial)
        super().on_trial_add(tune_controller, trial)
        self._after(tune_controller)

    def on_trial_result(self, tune_controller: Any, trial: Trial, result: dict[str, Any]) -> str:
        self._trials[trial.trial_id] = trial
        self._apply_deferred(tune_controller)
        step = result.get(self.time_attr)
        if step is None:
            raise ValueError(
                f"{type(self.core).__name__} measures progress in {self.time_attr!r}, but trial "
                f"{trial.trial_id} reported no such key; set time_attr to one it reports"
            )
        metric = self._metric or DEFAULT_METRIC
        if metric not in result:
            if "metric" not in self._warned:
                self._warned.add("metric")
                logger.warning(
                    "%s: trial %s reported a result without %r; PBT ignores such results",
                    type(self.core).__name__,
                    trial.trial_id,
                    metric,
                )
            return TrialScheduler.CONTINUE
        decision = self.core.on_result(trial.trial_id, float(step), self._loss(result))
        if isinstance(decision, Exploit):
            out = self._exploit(tune_controller, trial, decision)
        else:
            out = _DECISIONS[decision]
        self._after(tune_controller)
        if not isinstance(decision, Exploit):
            self._delete_copies(trial)
        return out

    def on_trial_complete(
        self, tune_controller: Any, trial: Trial, result: dict[str, Any]
    ) -> None:
        super().on_trial_complete(tune_controller, trial, result)
        self._after(tune_controller)
        self._delete_copies(trial)

    def on_trial_error(self, tune_controller: Any, trial: Trial) -> None:
        # Tune calls this for a trial it will run again (FailureConfig.max_failures) after
        # marking it ERROR; for a final failure while it is still RUNNING/PENDING.
        retried = trial.status == Trial.ERROR and trial.should_recover()
        super().on_trial_error(tune_controller, trial)
        self._deferred.pop(trial.trial_id, None)
        if retried:
            self._replace(tune_controller, trial)
        self._after(tune_controller)

    def _replace(self, controller: Any, trial: Trial) -> None:
        """A crashed member that Tune runs again continues from a top member's checkpoint
        with explored hyperparameters (its own may be what crashed it), not from its own."""
        exploit = self.pbt.replace(trial.trial_id)
        if exploit is None:
            return
        handed = self._hand_over(trial, exploit)
        if handed is None:
            self.pbt.exploit_failed(trial.trial_id)
            return
        self._apply(controller, trial, *handed)
        logger.info(
            "%s: crashed member %s is replaced by a copy of %s with %s",
            type(self.core).__name__,
            trial.trial_id,
            exploit.donor,
            exploit.params,
        )

    def on_trial_remove(self, tune_controller: Any, trial: Trial) -> None:
        super().on_trial_remove(tune_controller, trial)
        self._after(tune_controller)

    def choose_trial_to_run(self, tune_controller: Any) -> Trial | None:
        self._apply_later(tune_controller)
        self._apply_deferred(tune_controller)
        return super().choose_trial_to_run(tune_controller)

    def debug_string(self) -> str:
        core = self.core
        if isinstance(core, core_pbt.PBTScheduler):
            n = sum(m.n_exploits for m in core.members.values())
            return f"Using raysearch {core!r}: {len(core.members)} members, {n} exploits."
        return super().debug_string()


class PBTScheduler(ExploitingTuneScheduler):
    """Population-based training for Ray Tune (see :mod:`raysearch.tune.pbt`).

    Arguments keep the names of Ray's ``PopulationBasedTraining``:

    Args:
        time_attr: the monotone result key progress is measured in (default
            ``training_iteration``: runs are reproducible, unlike wall-clock seconds).
        metric, mode: as in Tune; may come from ``TuneConfig``.
        perturbation_interval: a member is ready every this many ``time_attr`` units.
        burn_in_period: no perturbation before this much ``time_attr``.
        hyperparam_mutations: the parameters PBT may change: a dict of Tune domains
            (``tune.loguniform(...)``), raysearch parameters, nested dicts, or lists
            (ordered choices, as in Ray), or a raysearch :class:`Space`. None: the
            searcher's space (every searched parameter mutates).
        quantile_fraction: the bottom fraction exploits the top one (0 to 0.5).
        resample_probability: per parameter, the chance to resample instead of perturb.
        perturbation_factors: factors of a perturbation (log-scale parameters are
            multiplied; linear ones move by ``(f - 1) / 2`` of their range).
        synch: synchronous PBT (members wait for each other at every interval; crashed
            or finished ones are not waited for).
        boundary: ``"reflect"`` or ``"clip"`` at the bounds of the space.
        max_t: where members end if they stop by themselves (no perturbation from there
            on; unneeded with ``RunConfig(stop={time_attr: N})``).
        replace_crashed: how many times a crashed member is run again, each time
            *replaced*: it continues from a top member's checkpoint with explored
            hyperparameters (raises each trial's ``FailureConfig.max_failures`` to at least
            this; 0: a crashed member just leaves the population). Never waited for.
        seed: seeds every random choice (donors, perturbations, sampled values).

    Unlike Ray's, any ``search_alg`` may create the initial population.
    """

    def __init__(
        self,
        time_attr: str = "training_iteration",
        metric: str | None = None,
        mode: str | None = None,
        *,
        perturbation_interval: float = 5.0,
        burn_in_period: float = 0.0,
        hyperparam_mutations: Space | Mapping[str, Any] | None = None,
        quantile_fraction: float = 0.25,
        resample_probability: float = 0.25,
        perturbation_factors: Sequence[float] = (1.2, 0.8),
        synch: bool = False,
        boundary: str = "reflect",
        max_t: float | None = None,
        replace_crashed: int = 1,
        seed: SeedLike = None,
    ) -> None:
        core = core_pbt.PBTScheduler(
            mutation_space(hyperparam_mutations),
            time_attr=time_attr,
            perturbation_interval=perturbation_interval,
            burn_in_period=burn_in_period,
            quantile_fraction=quantile_fraction,
            resample_probability=resample_probability,
            perturbation_factors=perturbation_factors,
            synch=synch,
            boundary=boundary,
            max_t=max_t,
            seed=seed,
        )
        super().__init__(core, metric, mode, time_attr=time_attr, replace_crashed=replace_crashed)


class PB2Scheduler(ExploitingTuneScheduler):
    """Population-based bandits (PB2) for Ray Tune: PBT whose explore step is a GP-UCB
    bandit with a time-varying kernel (see :mod:`raysearch.schedulers.pbt.pb2`).

    Args:
        hyperparam_bounds: the parameters PB2 chooses, as search-space definitions (Tune
            domains, raysearch parameters or a :class:`Space`; raw ``[low, high]`` lists
            are refused: say whether the axis is log-scale). None: the searcher's space.
        max_data: observations the GP keeps (bounded memory).
        replace_crashed: as for :class:`PBTScheduler`.
        The other arguments are :class:`PBTScheduler`'s.
    """

    def __init__(
        self,
        time_attr: str = "training_iteration",
        metric: str | None = None,
        mode: str | None = None,
        *,
        perturbation_interval: float = 5.0,
        burn_in_period: float = 0.0,
        hyperparam_bounds: Space | Mapping[str, Any] | None = None,
        quantile_fraction: float = 0.25,
        resample_probability: float = 0.0,
        synch: bool = False,
        max_t: float | None = None,
        max_data: int = 256,
        replace_crashed: int = 1,
        seed: SeedLike = None,
    ) -> None:
        core = core_pb2.PB2Scheduler(
            mutation_space(hyperparam_bounds, lists="refuse"),
            time_attr=time_attr,
            perturbation_interval=perturbation_interval,
            burn_in_period=burn_in_period,
            quantile_fraction=quantile_fraction,
            resample_probability=resample_probability,
            synch=synch,
            max_t=max_t,
            max_data=max_data,
            seed=seed,
        )
        super().__init__(core, metric, mode, time_attr=time_attr, replace_crashed=replace_crashed)
