"""`--strategy`: the tf.distribute strategy of a run."""

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
    return tf.distribute.MultiWorkerMirroredStrategy(
        cluster_resolver=_cluster())
  if name == 'tpu':  # --tpu is required by its flag validator
    resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=tpu)
    tf.config.experimental_connect_to_cluster(resolver)
    tf.tpu.experimental.initialize_tpu_system(resolver)
    return tf.distribute.TPUStrategy(resolver)
  raise ValueError(f'--strategy must be one of {STRATEGIES}; got {name!r}.')


def _cluster():
  """TF's reading of the `TF_CONFIG` environment variable."""
  return tf.distribute.cluster_resolver.TFConfigClusterResolver()


def is_chief():
  """True on the worker that writes checkpoints, summaries and samples: the
  chief, or worker 0 of a cluster without one (MultiWorkerMirroredStrategy's
  convention), or the only process."""
  cluster = _cluster()
  if not cluster.task_type:
    return True
  return cluster.task_type == 'chief' or (
      cluster.task_type == 'worker' and cluster.task_id == 0 and
      'chief' not in cluster.cluster_spec().jobs)


def task_id():
  """`<type>_<index>` of this process in the cluster (`worker_0` alone)."""
  cluster = _cluster()
  return f'{cluster.task_type or "worker"}_{cluster.task_id or 0}'
