"""Parameter counts of the convolution-exponential reference code's models.

    python benchmarks/reference_counts.py /path/to/convolution_exponential_and_sylvester

Needs PyTorch and a checkout of ehoogeboom/convolution_exponential_and_sylvester
(neither is a dependency of this package; a CPU wheel of torch is enough).
Builds every model of the reference README's commands at CIFAR-10 shape,
exactly as `main_experiment.py` and `experiment_sylvester_network.py` do,
counts `model.parameters()` per part, and writes
benchmarks/results/reference_counts.json, which `flows.CONFIGS`'s
`reference_parameters` and benchmarks/results/configs.md quote.

The reference code imports two things that current PyTorch or a plain
checkout lack; both are stubbed without touching any model code:
`torch._six.container_abcs` (removed from PyTorch, used by the residual
blocks' convolution module) and the Cython inverse of the emerging
convolution (only called when sampling).
"""

import collections.abc
import json
import os
import re
import sys
import types


def _stub_missing_modules():
  six = types.ModuleType('torch._six')
  six.container_abcs = collections.abc
  sys.modules['torch._six'] = six
  inverse = types.ModuleType(
      'models.transformations.emerging.inverse_triang_conv')
  inverse.Inverse = type('Inverse', (), {})
  sys.modules[inverse.__name__] = inverse


def _args(command, residual):
  from settings import get_parser  # pylint: disable=g-import-not-at-top
  parser = get_parser()
  if residual:  # the arguments experiment_sylvester_network.py adds
    parser.add_argument('--model_type', default='sylvester')
    parser.add_argument('--truncation_convexp', type=float, default=0)
    parser.add_argument('--n_internal_channels', type=int, default=528)
    parser.add_argument('--squeeze_first', type=int, default=1)
    parser.add_argument('--lipschitz_sylvester', type=float, default=1.5)
  args = parser.parse_args(command.replace("'", '').split())
  args.input_size = [3, 32, 32]
  return args


def _parts(args, residual):
  """The model's parts as the two experiment scripts build them."""
  import torch  # pylint: disable=g-import-not-at-top
  from models.architectures.densenet import DenseNet  # pylint: disable=g-import-not-at-top
  from models.distributions.flow import Flow  # pylint: disable=g-import-not-at-top
  if residual:
    from models.distributions.specific_models import coupling_model, residualflow_model, sylvester_model  # pylint: disable=g-import-not-at-top,line-too-long
    model = {'sylvester': sylvester_model.SylvesterModel,
             'residual_flow': residualflow_model.ResidualFlowModel,
             'coupling_flow': coupling_model.CouplingModel}[args.model_type]
    flow = model(args, args.input_size, n_levels=args.n_levels,
                 n_subflows=args.n_subflows,
                 use_splitprior=args.use_splitprior,
                 normalize_translation=128., normalize_scale=256.)
  else:
    flow = Flow(args, args.input_size, n_levels=args.n_levels,
                n_subflows=args.n_subflows,
                use_splitprior=args.use_splitprior, n_context=None,
                normalize_translation=128., normalize_scale=256.)
  parts = {'flow': flow}
  if args.dequantize_distribution == 'flow':
    parts['context'] = torch.nn.Sequential(
        DenseNet(args, input_size=None, n_inputs=3, n_outputs=args.n_context,
                 depth=4, growth=32, dropout_p=0.),
        torch.nn.Conv2d(args.n_context, args.n_context, kernel_size=2,
                        stride=2, padding=0),
        DenseNet(args, input_size=None, n_inputs=args.n_context,
                 n_outputs=args.n_context, depth=4, growth=32, dropout_p=0.))
    parts['dequantizer_flow'] = Flow(
        args, args.input_size, n_levels=args.dequantize_levels,
        n_subflows=args.dequantize_subflows, n_context=args.n_context,
        use_splitprior=False, normalize_translation=0., normalize_scale=1.,
        parametrize_inverse=True)
  return parts


def main(argv):
  if len(argv) != 2:
    sys.exit(__doc__)
  reference = os.path.abspath(argv[1])
  sys.path.insert(0, reference)
  _stub_missing_modules()
  with open(os.path.join(reference, 'README.md')) as f:
    commands = re.findall(
        r'python (main_experiment|experiment_sylvester_network)\.py (.*)',
        f.read())
  rows = []
  for script, command in commands:
    residual = script == 'experiment_sylvester_network'
    args = _args(command, residual)
    counts = {name: sum(p.numel() for p in part.parameters())
              for name, part in _parts(args, residual).items()}
    rows.append(dict(script=script, command=command.replace("'", ''),
                     parts=counts, parameters=sum(counts.values())))
    print(f'{rows[-1]["parameters"]:>12,d}  {script} {command}', flush=True)
  path = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'results',
                      'reference_counts.json')
  with open(path, 'w') as f:
    json.dump(rows, f, indent=1)
    f.write('\n')


if __name__ == '__main__':
  main(sys.argv)
