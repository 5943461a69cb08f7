import sys

from models_registry.serving.server import main

sys.exit(main())
