"""`python -m train`: see `train/trainer.py`."""

from absl import app

from train import run_config
from train import trainer

if __name__ == '__main__':
  app.run(trainer.main, flags_parser=run_config.flags_parser(
      trainer.__doc__, trainer.HELP_GROUPS))
