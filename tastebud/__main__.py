from tastebud.cli import main

raise SystemExit(main())
