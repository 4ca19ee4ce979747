"""`python -m balancekit_server.demo [NAME] [--port N]`."""

import sys

from balancekit_server.demo import main

sys.exit(main())
