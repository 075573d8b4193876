"""The PsychoJS release the online export targets (a module of its own, importing nothing, so
that ``reveal --help`` and ``reveal info`` can name it without importing the builder)."""

#: The PsychoJS release the online study loads (``lib/psychojs-<version>.js``, which Pavlovia
#: serves for every PsychoJS release): the one the browser test runs the export against
#: (``../shared/vendor/psychojs``, "[PsychoJS] Version 2024.2.0"), not the installed PsychoPy's
#: version, which Pavlovia may not serve yet and no test here has run.
DEFAULT_PSYCHOJS_VERSION = "2024.2.0"
