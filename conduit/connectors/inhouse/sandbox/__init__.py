"""The in-house tracker's sandbox: the reference service of `examples/inhouse_tracker`, served with the
shared `/_sandbox` controls.

The reference service is not part of the installed package (teams copy it; it imports nothing from
Conduit): it lives in the checkout beside it, which is where sandboxes run (tests, benchmarks, the
demo), so the checkout is made importable when a console script started from elsewhere.
"""

import sys
from pathlib import Path

_CHECKOUT = Path(__file__).resolve().parents[4]
if (_CHECKOUT / "examples" / "inhouse_tracker").is_dir() and str(_CHECKOUT) not in sys.path:
    sys.path.append(str(_CHECKOUT))

from conduit.connectors.inhouse.sandbox.sandbox import InhouseSandbox  # noqa: E402

__all__ = ["InhouseSandbox"]
