"""The SCONE policy pack: ``pulumi preview --policy-pack policy`` (see policy/README.md).

Pulumi runs this file by path. The repository root is put on ``sys.path`` so that the
rules have one module name, ``policy.scone_policy``, here and in the tests.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pulumi_policy import EnforcementLevel, PolicyPack

from policy.scone_policy.policies import POLICIES

PolicyPack(name="scone-stack", enforcement_level=EnforcementLevel.MANDATORY, policies=POLICIES)
