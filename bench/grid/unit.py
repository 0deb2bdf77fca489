"""One encoder the grid evaluates (a ``Unit``): what its cells' keys and configs read of it."""

from __future__ import annotations

from dataclasses import dataclass, field

from bench.evaluation.config import EvaluationConfig
from bench.grid.profiles import Profile
from bench.method import METHODS, HeadSpec, MatchedConfig, Method, StagedFinetune
from bench.training.planning import PretrainPlan
from bench.training.spec import PretrainSetup


@dataclass(frozen=True)
class Unit:
    """One encoder the grid evaluates: a pretraining (plan set) or a baseline initialisation.

    ``seed`` is the pretraining's ``train.seed``, or a baseline's initialisation seed (None: a
    baseline initialised with each cell's own seed, as ``bench tune`` plans it).
    ``evaluation`` is how its cells are evaluated (the profile's, with the method's section).
    ``matched_baselines`` names, for an SSL unit, the shared rows that stand for its matched
    baselines where those are the same network (``bench.grid.twins``); it is not in the key.
    """

    method: str
    dataset: str
    setup: PretrainSetup
    key: str
    plan: PretrainPlan | None
    seed: int | None = None
    evaluation: EvaluationConfig = field(default_factory=EvaluationConfig)
    matched_baselines: tuple[tuple[str, str], ...] = ()  # baseline -> the row standing for it
    corpus: str | None = None  # the corpus label (name, subset size) the pretraining used
    corpus_records: int | None = None  # its subset size (None: the whole corpus)

    @property
    def needs_pretraining(self) -> bool:
        return self.plan is not None

    @property
    def pretrained_encoder(self) -> bool:
        """True when its encoder is pretrained (here, or a published checkpoint's)."""
        return self.needs_pretraining or self.setup.method.pretrained

    @property
    def named_head(self) -> HeadSpec | None:
        """The fine-tuning head the method's paper names (a matched baseline: its backbone's)."""
        return self._paper_method.finetune_head

    @property
    def finetune_stages(self) -> StagedFinetune | None:
        """The paper's fine-tuning stages of a pretrained encoder (``Method.finetune_stages``);
        None for a baseline: a matched one trains its backbone's network from scratch."""
        return self.setup.method.finetune_stages if self.pretrained_encoder else None

    def input_kind(self, profile: Profile) -> str:
        """``native`` where ``profile`` feeds this unit its paper's input, else ``shared``."""
        paper = self._paper_method
        native = (profile.input == "native" or paper.fixed_input) and paper.native_input is not None
        return "native" if native else "shared"

    @property
    def _paper_method(self) -> type[Method]:
        config = self.setup.method_config
        if isinstance(config, MatchedConfig):
            return METHODS.get(config.backbone)
        return self.setup.method
