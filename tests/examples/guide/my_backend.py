# The guide's path 1, step 3 (registering the loader), as written: `serve --plugin` imports it.
from asr_interface.backends.registry import register_loader
from .my_model_loader import MyCustomASRLoader

# Register your loader with a unique backend name
register_loader("my_custom_backend", MyCustomASRLoader())
