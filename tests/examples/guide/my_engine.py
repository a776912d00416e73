# The guide's path 2, step 3 (registering the loader), as written: `serve --plugin` imports it.
from asr_interface.backends.registry import register_loader
from .my_engine_loader import MyEngineLoader

# Register your loader with a unique backend name
register_loader("my_engine", MyEngineLoader())
