"""The store and the claim path depend on the policy's protocol and views, not on a policy:
loading them loads no policy implementation (a fresh interpreter, as this one has loaded
every module already)."""

from __future__ import annotations

import subprocess
import sys

LOADED = ("import sys, qgjob.store.base, qgjob.store.sql.store, qgjob.claiming.path; "
          "print(sorted(m for m in sys.modules if m in {'qgjob.scheduler.policy', "
          "'qgjob.scheduler.baselines', 'qgjob.scheduler.registry'}))")


def test_the_store_loads_no_policy_implementation() -> None:
    out = subprocess.run([sys.executable, "-c", LOADED], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"
