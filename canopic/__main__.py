import sys

from canopic.app.cli import main

sys.exit(main())
