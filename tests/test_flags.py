"""Every flag of the programs is range-checked when parsed.

The training program's flags are parsed in this process (`flagsaver` puts
them back after each case); the other programs define flags of the same
names, so each of them is checked in a process of its own (slow tier).
"""

import importlib

from absl import flags
from absl.testing import flagsaver
import pytest

import flag_checks
from test_train import _python
from train import run_config

importlib.import_module('train.trainer')  # defines the training flags

FLAG_CASES = [
    (['--clip_grad_norm=-1'], '--clip_grad_norm must be a finite number >= 0'),
    (['--clip_grad_norm=nan'], '--clip_grad_norm must be a finite number'),
    (['--temperature=-1'], '--temperature must be a finite number >= 0'),
    (['--temperature=inf'], '--temperature must be a finite number >= 0'),
    (['--lr=inf'], '--lr must be a finite number > 0'),
    (['--learning_rate=nan'], '--lr must be a finite number > 0'),
    (['--lr=0'], '--lr must be a finite number > 0'),
    (['--lr_decay=1.5'], '--lr_decay must be in (0, 1]'),
    (['--inject_nonfinite_at=-1'], 'must list step numbers >= 0'),
    (['--inject_nonfinite_at=a'], 'must list step numbers >= 0'),
    (['--batch_size=0'], 'flag --batch_size=0: 0 is not a positive integer'),
    (['--max_restores=0'], 'flag --max_restores=0'),
    (['--seed=-1'], 'flag --seed=-1'),
    (['--n_levels=0'], 'flag --n_levels=0'),
    (['--n_subflows=2,x'], '--n_subflows must be one positive int'),
    (['--convexp_coeff=-0.5'],
     '--convexp_norm_bound must be a finite number > 0'),
    (['--model=glow'], 'flag --model=glow: value should be one of'),
    (['--cpu_devices=2'], '--cpu_devices splits the CPU for '
                          '--strategy=mirrored only'),
    (['--tpu=x'], '--tpu is only read with --strategy=tpu'),
    (['--strategy=tpu'], '--strategy=tpu needs --tpu'),
    (['--dataset=digits', '--image_folder=/tmp'],
     '--image_folder is only read with --dataset=folder'),
    (['--image_folder=/tmp'], '--image_folder is only read with --dataset=folder'),
    (['--dataset=folder'], '--dataset=folder needs --image_folder'),
]


@pytest.mark.parametrize('args,message', FLAG_CASES)
def test_flag_ranges_are_validated_when_parsed(args, message, capsys):
  with flagsaver.flagsaver():
    with pytest.raises(SystemExit) as exited:
      run_config.parse_flags(['train', *args])
    flags.FLAGS.unparse_flags()
  assert exited.value.code == 2, args
  assert message in capsys.readouterr().err, args


def test_every_number_flag_of_the_trainer_has_a_validated_range():
  assert flag_checks.unchecked_number_flags(flags.FLAGS) == []


@pytest.mark.slow
@pytest.mark.parametrize('program', ['evaluate', 'sample', 'export'])
def test_every_number_flag_of_the_other_programs_has_a_validated_range(
    program):
  script = ('import sys; sys.path.insert(0, "tests")\n'
            'from absl import flags\n'
            'import flag_checks\n'
            f'import train.{program}\n'
            'print(flag_checks.unchecked_number_flags(flags.FLAGS))\n')
  assert _python('-c', script).stdout.splitlines()[-1] == '[]'
