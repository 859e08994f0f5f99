import sys

from systems.hag.native import main

sys.exit(main())
