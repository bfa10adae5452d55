"""The training program's settings: one object, built once from the flags.

`Settings.from_flags()` reads every flag `python -m train` has besides the
model and data ones (those make the run configuration, `run_config`); the
trainer reads only this object. `saved()` is what `config.json` records
under `training`.
"""

import dataclasses

from absl import flags

from tfp_convexp import flows
from train import run_config

FLAGS = flags.FLAGS

# What the run computes: resuming with another value is refused unless
# --accept_changed_settings.
RUN_SETTINGS = ('batch_size', 'lr', 'warmup', 'warmup_shape', 'lr_decay',
                'optimizer', 'beta_2', 'clip_grad_norm', 'seed', 'augment',
                'validation_size')
# Read in one session only, never recorded.
SESSION_SETTINGS = ('model', 'workdir', 'tpu', 'overwrite',
                    'accept_changed_settings', 'progress',
                    'inject_nonfinite_at')


@dataclasses.dataclass(frozen=True)
class Settings:
  """Every training setting (see `python -m train --help` for each)."""
  # What the run computes (RUN_SETTINGS).
  batch_size: int
  lr: float
  warmup: int
  warmup_shape: str
  lr_decay: float
  optimizer: str
  beta_2: float
  clip_grad_norm: float
  seed: int
  augment: str
  validation_size: int
  # How long it runs, what it writes and where: may change between sessions.
  epochs: int
  max_steps: int
  checkpoint_every: int
  keep_checkpoints: int
  eval_every: int
  eval_num_samples: int
  final_num_samples: int
  num_grid_samples: int
  temperature: float
  log_every: int
  max_nonfinite: int
  max_restores: int
  strategy: str
  cpu_devices: int
  jit_compile: bool | None
  # This session only (SESSION_SETTINGS).
  model: str
  workdir: str
  tpu: str | None
  overwrite: bool
  accept_changed_settings: bool
  progress: bool
  inject_nonfinite_at: tuple[int, ...]

  @classmethod
  def from_flags(cls):
    """The flags' values; a training setting (`flows.TRAINING_KEYS`) not
    given defaults to the `--model` entry's value."""
    values = {}
    for field in dataclasses.fields(cls):
      name = field.name
      values[name] = (run_config.setting(name) if name in flows.TRAINING_KEYS
                      else FLAGS[name].value)
    # Checked by the flag's validator.
    values['inject_nonfinite_at'] = tuple(
        int(s) for s in values['inject_nonfinite_at'])
    return cls(**values)

  def saved(self):
    """The settings `config.json` records (all but the session's own)."""
    return {k: v for k, v in dataclasses.asdict(self).items()
            if k not in SESSION_SETTINGS}

  def changed_from(self, recorded):
    """Run settings that differ from `recorded` (unrecorded ones pass), as
    `--name: old -> new` strings."""
    return [f'--{k}: {recorded[k]!r} -> {getattr(self, k)!r}'
            for k in RUN_SETTINGS
            if k in recorded and recorded[k] != getattr(self, k)]
