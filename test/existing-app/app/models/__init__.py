"""
The application's models. The session model is the seed file itself, read from
../shared/seed/session_model.py beside the repository and executed as `app.models.session`:
never copied or edited, so this contract test runs exactly the code the other application runs.
"""
import importlib.util
import sys
from pathlib import Path

from app.models.tenant import Tenant
from app.models.user import User

REPOSITORY_ROOT = Path(__file__).resolve().parents[4]
SEED_PATH = REPOSITORY_ROOT.parent / "shared" / "seed" / "session_model.py"


def _load_seed() -> type:
    """Executes the seed file as the module `app.models.session` and returns its `Session` class."""
    if not SEED_PATH.is_file():
        raise SystemExit(
            f"existing-app: the seed model is missing: expected {SEED_PATH} "
            "(../shared/seed/session_model.py relative to the repository root)"
        )
    # The seed's directory is not ours: leave no __pycache__ in it.
    sys.dont_write_bytecode = True
    spec = importlib.util.spec_from_file_location("app.models.session", SEED_PATH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module.Session


Session = _load_seed()

__all__ = ["Session", "Tenant", "User"]
