import os

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

import hypothesis  # pylint: disable=g-import-not-at-top

# Tests build TF graphs and XLA programs; wall time per example varies.
hypothesis.settings.register_profile(
    'default', deadline=None, derandomize=True, print_blob=True,
    suppress_health_check=[hypothesis.HealthCheck.too_slow])
hypothesis.settings.load_profile('default')
