from audiomuse.sync.cli import main

raise SystemExit(main())
