"""The training program: `python -m train` and its companions.

    python -m train [--model=NAME] [--workdir=W]
    python -m train.evaluate --workdir=W
    python -m train.sample --workdir=W
    python -m train.export --workdir=W --export_dir=E
"""

from train import quiet

# Every program imports this package first: TensorFlow's native start-up
# lines go to the run's log file instead of the terminal (see quiet.py).
with quiet.tensorflow_startup():
  import tensorflow as _tf  # pylint: disable=g-import-not-at-top
  _tf.config.list_physical_devices()
