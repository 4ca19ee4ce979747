"""`python -m balancekit_server.integrations.demo [NAME] [--port N]`."""

import sys

from balancekit_server.integrations.demo import main

sys.exit(main())
