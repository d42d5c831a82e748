"""`python -m infra.local` (what `make run` runs): the whole stack on this machine. See stack.py."""

from infra.local.stack import main

raise SystemExit(main())
