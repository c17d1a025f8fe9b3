"""The ``provmark`` command line: thin click wrappers over the library."""
