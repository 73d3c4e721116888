from drd.cli.main import main

raise SystemExit(main())
