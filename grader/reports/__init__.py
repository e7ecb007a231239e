"""Report formats, one module each, registered in grader.reports.registry. A new format is a
module that decorates its render function with `registry.register(name, extension)`, and one
entry in registry.SHIPPED. `render` imports the one format it renders; reading FORMATS or
EXTENSIONS from this package imports every shipped format first."""
from grader.reports import registry
from grader.reports.registry import register, render

__all__ = ["EXTENSIONS", "FORMATS", "register", "render"]


def __getattr__(name: str):
    if name in ("FORMATS", "EXTENSIONS"):
        registry.load_shipped()
        return getattr(registry, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
