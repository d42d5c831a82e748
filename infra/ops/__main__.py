"""`python -m infra.ops`: the operator CLI (infra/ops/__init__.py)."""

from infra.ops import main

raise SystemExit(main())
