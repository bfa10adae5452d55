"""The training program: `python -m train` and its companions.

    python -m train [--flagfile=train/configs/digits.flags] [--workdir=W]
    python -m train.evaluate --workdir=W
    python -m train.sample --workdir=W
    python -m train.export --workdir=W --export_dir=E
"""
