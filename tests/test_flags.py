"""Every flag of the programs is range-checked when parsed.

The programs define flags of the same names (`--workdir`) in absl's
process-global registry, and other tests import `train.export` in-process,
so the training program's flags are parsed in one process of their own:
every case, and the check that no number flag lacks a range, at once.
"""

import json

import pytest

from programs import python as _python

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


_PARSE_CASES = (
    'import contextlib, io, json, sys\n'
    'sys.path.insert(0, "tests")\n'
    'from absl import flags\n'
    'import flag_checks\n'
    'from train import run_config, trainer\n'
    'out = []\n'
    'for args in json.loads(sys.argv[1]):\n'
    '  err = io.StringIO()\n'
    '  try:\n'
    '    with contextlib.redirect_stderr(err):\n'
    '      run_config.parse_flags(["train", *args])\n'
    '    code = 0\n'
    '  except SystemExit as e:\n'
    '    code = e.code\n'
    '  flags.FLAGS.unparse_flags()\n'
    '  out.append([code, err.getvalue()])\n'
    'print(json.dumps(dict(cases=out, unchecked=\n'
    '    flag_checks.unchecked_number_flags(flags.FLAGS))))\n')


@pytest.fixture(scope='module')
def parsed():
  proc = _python('-c', _PARSE_CASES,
                 json.dumps([args for args, _ in FLAG_CASES]))
  return json.loads(proc.stdout.splitlines()[-1])


@pytest.mark.parametrize('case', range(len(FLAG_CASES)))
def test_flag_ranges_are_validated_when_parsed(case, parsed):
  code, err = parsed['cases'][case]
  assert code == 2, (FLAG_CASES[case], err)
  assert FLAG_CASES[case][1] in err, (FLAG_CASES[case], err)


def test_every_number_flag_of_the_trainer_has_a_validated_range(parsed):
  assert parsed['unchecked'] == []


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
