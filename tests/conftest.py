"""Settings shared by the whole suite."""

import os

from hypothesis import settings

# "ci" keeps the suite fast; HYPOTHESIS_PROFILE=deep runs many more and longer examples.
settings.register_profile("ci", max_examples=300, stateful_step_count=40, deadline=None)
settings.register_profile("deep", max_examples=5000, stateful_step_count=120, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
