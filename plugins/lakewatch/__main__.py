from lakewatch.cli import main

raise SystemExit(main())
