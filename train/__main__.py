"""`python -m train`: see `train/trainer.py`."""

from train import run_config
from train import trainer

if __name__ == '__main__':
  run_config.run_program(trainer.main, trainer.flags_parser)
