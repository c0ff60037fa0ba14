"""
The application's models. The session model is the seed file itself, executed unchanged as
`app.models.session`: test/existing-app/seed/session_model.py, a byte-for-byte copy of
../shared/seed/session_model.py kept in the repository so that a clone anywhere runs it
(test/contract/seed-copy.test.ts fails when the two differ), so this contract test runs exactly
the code the other application runs.
"""
import importlib.util
import sys
from pathlib import Path

from app.models.tenant import Tenant
from app.models.user import User

SEED_PATH = Path(__file__).resolve().parents[2] / "seed" / "session_model.py"


def _load_seed() -> type:
    """Executes the seed file as the module `app.models.session` and returns its `Session` class."""
    if not SEED_PATH.is_file():
        raise SystemExit(
            f"existing-app: the seed model is missing: expected {SEED_PATH}"
        )
    # Leave no __pycache__ beside the copy.
    sys.dont_write_bytecode = True
    spec = importlib.util.spec_from_file_location("app.models.session", SEED_PATH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module.Session


Session = _load_seed()

__all__ = ["Session", "Tenant", "User"]
