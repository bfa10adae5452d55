"""Every flag of the programs is range-checked when parsed."""

import contextlib
import io

from absl import flags
import pytest

from programs import program

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


def unchecked_number_flags(flag_values):
  """Integer and float flags of the `train` programs with neither a bound
  nor a validator (aliases are checked as their flags)."""
  unchecked = []
  for name, flag in flag_values._flags().items():  # pylint: disable=protected-access
    module = flag_values.find_module_defining_flag(name) or ''
    alias = type(flag).__name__ == '_FlagAlias'
    if (module.startswith('train') and not alias and
        flag.flag_type() in ('int', 'float') and
        getattr(flag.parser, 'lower_bound', None) is None and
        not flag.validators):
      unchecked.append(name)
  return sorted(set(unchecked))


@pytest.fixture(scope='module')
def parsed():
  """`[exit code, stderr]` of the training program's parser, per case."""
  program('train')
  from train import run_config  # pylint: disable=g-import-not-at-top
  cases = []
  for args, _ in FLAG_CASES:
    flags.FLAGS.unparse_flags()
    err = io.StringIO()
    try:
      with contextlib.redirect_stderr(err):
        run_config.parse_flags(['train', *args])
      code = 0
    except SystemExit as e:
      code = e.code
    cases.append([code, err.getvalue()])
  flags.FLAGS.unparse_flags()
  return cases


@pytest.mark.parametrize('case', range(len(FLAG_CASES)))
def test_flag_ranges_are_validated_when_parsed(case, parsed):
  code, err = parsed[case]
  assert code == 2, (FLAG_CASES[case], err)
  assert FLAG_CASES[case][1] in err, (FLAG_CASES[case], err)


@pytest.mark.parametrize('module', ['train', 'train.evaluate', 'train.sample',
                                    'train.export'])
def test_every_number_flag_of_the_programs_has_a_validated_range(module):
  program(module)
  assert unchecked_number_flags(flags.FLAGS) == []
