import gc
import os

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

import hypothesis  # pylint: disable=g-import-not-at-top
import pytest  # pylint: disable=g-import-not-at-top

# Tests build TF graphs and XLA programs; wall time per example varies.
hypothesis.settings.register_profile(
    'default', deadline=None, derandomize=True, print_blob=True,
    suppress_health_check=[hypothesis.HealthCheck.too_slow])
hypothesis.settings.load_profile('default')


@pytest.fixture(scope='session')
def finished_run(tmp_path_factory):
  """`(workdir, process)`: `python -m train` with `FINISHED_RUN_ARGS`, run
  once per test process (`programs.run_timed`); tests that change it work
  on `copy_run` of it."""
  import programs  # pylint: disable=g-import-not-at-top
  work = str(tmp_path_factory.mktemp('finished') / 'run')
  proc = programs.run_timed('train', f'--workdir={work}',
                            *programs.FINISHED_RUN_ARGS)
  return work, proc


# TensorFlow leaves millions of objects in a test process; a full collection
# walks them all. Freeze what the imports made and collect less often: about
# a tenth off the in-process tests' time, measured on test_flows.py.
gc.set_threshold(50_000, 20, 20)


def pytest_collection_finish(session):
  del session
  gc.collect()
  gc.freeze()
