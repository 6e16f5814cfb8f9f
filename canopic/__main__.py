import sys

from canopic.cli import main

sys.exit(main())
