"""From YAML text to a built network: the bounded YAML loader that keeps every value's line and column
(``yamlsource``, ``yamlcompose``, ``located``, ``limits``, ``diagnostics``), the section readers and field converters
that turn a document into frozen ``...Spec`` values (``loader``, ``*_reader``, ``fields``, ``bounds``, ``guest_check``,
``spec``), and ``build``, which turns a ``TopologySpec`` into a ``Network``."""
