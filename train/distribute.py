"""`--strategy`: the tf.distribute strategy of a run."""

import json
import os

import tensorflow as tf

STRATEGIES = ('default', 'mirrored', 'multi_worker', 'tpu')


def split_cpu(num_devices):
  """Splits the CPU into `num_devices` logical devices (before any op runs),
  so that `mirrored` can be tried and tested without accelerators."""
  cpus = tf.config.list_physical_devices('CPU')
  tf.config.set_logical_device_configuration(
      cpus[0], [tf.config.LogicalDeviceConfiguration()] * num_devices)


def make_strategy(name, tpu=None):
  """The strategy; raises ValueError for a setting that cannot work."""
  if name == 'default':
    return tf.distribute.get_strategy()
  if name == 'mirrored':
    gpus = tf.config.list_logical_devices('GPU')
    devices = [d.name for d in gpus] or [
        d.name for d in tf.config.list_logical_devices('CPU')]
    return tf.distribute.MirroredStrategy(devices)
  if name == 'multi_worker':
    if 'TF_CONFIG' not in os.environ:
      raise ValueError('--strategy=multi_worker needs the TF_CONFIG '
                       'environment variable (cluster and task).')
    return tf.distribute.MultiWorkerMirroredStrategy()
  if name == 'tpu':
    if not tpu:
      raise ValueError('--strategy=tpu needs --tpu (a TPU name or address).')
    resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=tpu)
    tf.config.experimental_connect_to_cluster(resolver)
    tf.tpu.experimental.initialize_tpu_system(resolver)
    return tf.distribute.TPUStrategy(resolver)
  raise ValueError(f'--strategy must be one of {STRATEGIES}; got {name!r}.')


def is_chief():
  """True on the worker that writes checkpoints, summaries and samples."""
  config = json.loads(os.environ.get('TF_CONFIG', '{}'))
  task = config.get('task', {})
  if not task:
    return True
  return task.get('type') == 'chief' or (
      task.get('type') == 'worker' and task.get('index') == 0 and
      'chief' not in config.get('cluster', {}))


def task_id():
  task = json.loads(os.environ.get('TF_CONFIG', '{}')).get('task', {})
  return f'{task.get("type", "worker")}_{task.get("index", 0)}'
